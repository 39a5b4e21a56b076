"""Write the example datasets (train, validation and held-out test splits).

    python -m examples.datasets.build --out DIR [NAME ...]

Names (default: all):

| name            | task                   | files                                   |
|-----------------|------------------------|-----------------------------------------|
| digits_images   | IMAGE_CLASSIFICATION   | digits_images_{train,val,test}.zip (8x8 grayscale PNGs + images.csv) |
| digits          | TABULAR_CLASSIFICATION | digits_{train,val,test}.csv (64 pixel columns + target) |
| iris, wine, breast_cancer | TABULAR_CLASSIFICATION | NAME_{train,val,test}.csv    |
| diabetes        | TABULAR_REGRESSION     | diabetes_{train,val,test}.csv           |
| pos_corpus      | POS_TAGGING            | pos_corpus_{train,val,test}.zip (corpus.tsv from a small grammar, ``pos_corpus.py``) |
| shapes          | IMAGE_DETECTION        | shapes_{train,val,test}.zip (64x64 PNGs of squares, circles, triangles + COCO boxes, ``shapes.py``) |

Splits are 60/20/20, stratified for classification, with a fixed seed, so builds are reproducible.
CSV columns are snake_case feature names and ``target`` last (class ids 0..k-1 for classification).
The last two are generated here (written by the modules named), not taken from scikit-learn.
"""
import argparse
import csv
import io
import os
import re
import sys
import zipfile
from typing import Dict, List

import numpy as np
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split

SPLITS = ('train', 'val', 'test')
TASKS = {'digits_images': 'IMAGE_CLASSIFICATION', 'digits': 'TABULAR_CLASSIFICATION',
         'iris': 'TABULAR_CLASSIFICATION', 'wine': 'TABULAR_CLASSIFICATION',
         'breast_cancer': 'TABULAR_CLASSIFICATION', 'diabetes': 'TABULAR_REGRESSION', 'pos_corpus': 'POS_TAGGING',
         'shapes': 'IMAGE_DETECTION'}
GENERATED_SIZES = {'pos_corpus': (900, 300, 300), 'shapes': (300, 80, 80)}   # train, val, test
_LOADERS = {'digits_images': skdatasets.load_digits, 'digits': skdatasets.load_digits,
            'iris': skdatasets.load_iris, 'wine': skdatasets.load_wine,
            'breast_cancer': skdatasets.load_breast_cancer, 'diabetes': skdatasets.load_diabetes}


def split(X, y, classification: bool, seed: int = 0) -> Dict[str, tuple]:
    strat = y if classification else None
    X_train, X_rest, y_train, y_rest = train_test_split(X, y, test_size=0.4, random_state=seed, stratify=strat)
    strat = y_rest if classification else None
    X_val, X_test, y_val, y_test = train_test_split(X_rest, y_rest, test_size=0.5, random_state=seed,
                                                    stratify=strat)
    return {'train': (X_train, y_train), 'val': (X_val, y_val), 'test': (X_test, y_test)}


def column_name(name: str) -> str:
    return re.sub(r'[^0-9a-z]+', '_', name.lower()).strip('_')


def write_csv(path: str, X: np.ndarray, y: np.ndarray, names: List[str]) -> None:
    with open(path, 'w', newline='', encoding='utf-8') as f:
        writer = csv.writer(f)
        writer.writerow(names + ['target'])
        for row, target in zip(X, y):
            writer.writerow([repr(float(v)) for v in row] + [target.item()])


def write_image_zip(path: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Grayscale PNGs under ``images/`` plus ``images.csv`` (path,class)."""
    from PIL import Image
    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(['path', 'class'])
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as archive:
        for i, (image, label) in enumerate(zip(images, labels)):
            png = io.BytesIO()
            Image.fromarray(image, mode='L').save(png, format='PNG')
            archive.writestr(f'images/{i:05d}.png', png.getvalue())
            writer.writerow([f'images/{i:05d}.png', int(label)])
        archive.writestr('images.csv', rows.getvalue())


def build(name: str, out_dir: str) -> Dict[str, str]:
    """Write one dataset's splits into ``out_dir``; return ``{split: path}``."""
    if name not in TASKS:
        raise SystemExit(f'unknown dataset {name!r}; choose from {", ".join(TASKS)}')
    os.makedirs(out_dir, exist_ok=True)
    if name in GENERATED_SIZES:
        return _build_generated(name, out_dir)
    data = _LOADERS[name]()
    classification = TASKS[name] != 'TABULAR_REGRESSION'
    paths = {}
    if name == 'digits_images':
        images = np.round(data.images / 16.0 * 255).astype(np.uint8)
        for part, (X, y) in split(images, data.target, True).items():
            paths[part] = os.path.join(out_dir, f'{name}_{part}.zip')
            write_image_zip(paths[part], X, y)
        return paths
    names = [column_name(n) for n in data.feature_names] if hasattr(data, 'feature_names') else None
    names = names or [f'x{i}' for i in range(data.data.shape[1])]
    for part, (X, y) in split(data.data, data.target, classification).items():
        paths[part] = os.path.join(out_dir, f'{name}_{part}.csv')
        write_csv(paths[part], X, y, names)
    return paths


def _build_generated(name: str, out_dir: str) -> Dict[str, str]:
    from examples.datasets import pos_corpus, shapes
    paths = {}
    for seed, (part, count) in enumerate(zip(SPLITS, GENERATED_SIZES[name])):
        paths[part] = os.path.join(out_dir, f'{name}_{part}.zip')
        if name == 'pos_corpus':
            pos_corpus.write_corpus_zip(paths[part], pos_corpus.sentences(count, seed))
        else:
            shapes.write_coco_zip(paths[part], part, count, seed)
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m examples.datasets.build', description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('names', nargs='*', help=f'datasets (default all): {", ".join(TASKS)}')
    args = parser.parse_args(argv)
    for name in args.names or list(TASKS):
        for part, path in build(name, args.out).items():
            print(f'{TASKS[name]:<24} {part:<6} {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
