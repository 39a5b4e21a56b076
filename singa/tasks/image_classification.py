"""IMAGE_CLASSIFICATION: a zip of images with their classes; queries are images; answers are
class probabilities.

- **Dataset**: a zip with ``images.csv`` (columns ``path,class``; paths relative to the zip's root)
  or one folder per class holding its images (also inside one top folder). Classes are integers
  ``0..k-1`` (SingaAuto's format) or names. The upload check reads only the archive's directory,
  ``images.csv`` and the first bytes of a few images (for their sizes); it never extracts anything.
- **Query**: an image, ``H x W`` or ``H x W x C`` nested lists of pixel values (``images.py``).
- **Prediction**: a list of ``k`` class probabilities (index = class).
- **Ensemble** (``combine.probabilities_rule``): probability vectors are averaged (``AUTO``,
  ``MEAN``; ``WEIGHTED_MEAN`` by validation score), labels voted on; ``VOTE`` always votes.
- **SDK**: ``load_image_dataset(path)`` -> ``(images, labels, classes)``;
  ``image_queries_to_array(queries)`` (``images.py``).
"""
import csv
import io
import os
import posixpath
import zipfile
from collections import Counter
from typing import List, Optional, Sequence, Tuple

import numpy as np

from singa.archives import is_ignorable, open_zip, read_member, safe_members
from singa.constants import EnsembleMethod, Task
from singa.errors import InvalidDatasetError, InvalidModelError
from singa.tasks import combine
from singa.tasks.base import BaseTask
from singa.tasks.images import (FIELD, IMAGE_SUFFIXES, SIZE_SAMPLE, check_image_queries, decode_image,
                                images_to_queries, open_archive, sample_sizes)

IMAGES_CSV = 'images.csv'
MAX_IMAGES_CSV_BYTES = 256 << 20


class ImageClassification(BaseTask):
    name = Task.IMAGE_CLASSIFICATION
    dataset_extension = 'zip'
    dataset_format = 'a zip with images.csv (path,class) or one folder per class'
    score_unit = 'images'  # accuracy: the share of images right

    def check_dataset(self, path: str) -> dict:
        if not zipfile.is_zipfile(path):
            raise InvalidDatasetError('an IMAGE_CLASSIFICATION dataset must be a zip archive', field=FIELD)
        return check_image_zip(path)

    def check_queries(self, queries: list) -> None:
        check_image_queries(queries, self.name.value)

    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod):
        return combine.probabilities_rule(values, weights, method)

    def load_dataset(self, path: str, **options):
        return load_image_dataset(path, **options)

    def check_predictions(self, predictions: Sequence, queries: Sequence = ()) -> None:
        check_probabilities(predictions, self.name.value)

    def sample_queries(self, path: str, train_args: dict, count: int) -> list:
        images, _, _ = load_image_dataset(path)
        return images_to_queries(images, count)


def check_probabilities(predictions: Sequence, task: str) -> None:
    """Each prediction a list of class probabilities summing to 1 (the classification tasks')."""
    for i, p in enumerate(predictions):
        ok = isinstance(p, list) and p and all(combine.is_number(v) for v in p) and abs(sum(p) - 1) < 1e-3
        if not ok:
            raise InvalidModelError(f'prediction {i}: a {task} prediction must be a list of class '
                                    f'probabilities summing to 1; got {str(p)[:80]}')


# -- the upload check ----------------------------------------------------------------------------

def check_image_zip(path: str) -> dict:
    with open_zip(path, InvalidDatasetError, FIELD) as zf:
        files = [i for i in safe_members(zf, InvalidDatasetError, FIELD) if not is_ignorable(i.filename)]
        by_name = {i.filename: i for i in files}
        if IMAGES_CSV in by_name:
            stat, images = _check_images_csv(zf, by_name)
        else:
            stat, images = _check_class_folders(files)
        stat['image_sizes'] = sample_sizes(zf, images[:SIZE_SAMPLE])
    return stat


def _check_images_csv(zf: zipfile.ZipFile, by_name: dict) -> tuple[dict, list]:
    raw = read_member(zf, by_name[IMAGES_CSV], MAX_IMAGES_CSV_BYTES, InvalidDatasetError, FIELD)
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError:
        raise InvalidDatasetError('images.csv is not UTF-8 text', field=FIELD) from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if 'path' not in header or 'class' not in header:
        raise InvalidDatasetError(f'images.csv must start with the header "path,class"; found {",".join(header)!r}',
                                  field=FIELD)
    path_col, class_col = header.index('path'), header.index('class')
    labels, images = [], []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            if len(row) != len(header):
                raise InvalidDatasetError(f'images.csv line {line} has {len(row)} columns; the header has '
                                          f'{len(header)}', field=FIELD)
            image_path = posixpath.normpath(row[path_col].strip())
            label = row[class_col].strip()
            if image_path not in by_name:
                raise InvalidDatasetError(f'images.csv line {line} names {row[path_col]!r}, which is not in the zip',
                                          field=FIELD)
            if not label:
                raise InvalidDatasetError(f'images.csv line {line} has no class', field=FIELD)
            labels.append(label)
            images.append(by_name[image_path])
    except csv.Error as e:
        raise InvalidDatasetError(f'images.csv line {reader.line_num} is not valid CSV: {e}', field=FIELD) from None
    if not labels:
        raise InvalidDatasetError('images.csv lists no images', field=FIELD)
    return dict(format='images_csv', images=len(labels), **class_summary(labels)), images


def _check_class_folders(files: list) -> tuple[dict, list]:
    if not files:
        raise InvalidDatasetError('the zip holds no images', field=FIELD)
    parts = [i.filename.split('/') for i in files]
    # A zip of one top folder holding the class folders is accepted as well.
    if all(len(p) == 3 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]
    for info, p in zip(files, parts):
        if len(p) != 2:
            raise InvalidDatasetError(
                f'expected images.csv at the top of the zip or one folder per class holding the images; '
                f'found {info.filename!r}', field=FIELD)
    labels = [p[0] for p in parts]
    return dict(format='class_folders', images=len(labels), **class_summary(labels)), list(files)


def class_summary(labels: list[str]) -> dict:
    """``classes`` (class -> count) and ``class_count``; integer classes must be 0..k-1 style (>= 0)."""
    counts = Counter(labels)
    if all(_is_int(label) for label in counts):
        numbers = {label: int(label) for label in counts}
        negative = [label for label, n in numbers.items() if n < 0]
        if negative:
            raise InvalidDatasetError(f'integer classes must be 0..k-1; found {negative[0]}', field=FIELD)
        ordered = sorted(counts, key=numbers.get)
        highest = max(numbers.values())
        summary = {'classes': {str(numbers[c]): counts[c] for c in ordered}, 'class_count': highest + 1,
                   'class_kind': 'integer'}
        missing = sorted(set(range(highest + 1)) - set(numbers.values()))
        if missing:
            summary['missing_classes'] = missing[:100]
        return summary
    return {'classes': {c: counts[c] for c in sorted(counts)}, 'class_count': len(counts), 'class_kind': 'name'}


def _is_int(text: str) -> bool:
    try:
        int(text)
        return True
    except ValueError:
        return False


# -- the SDK loader ------------------------------------------------------------------------------

def load_image_dataset(path: str, mode: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, list]:
    """Return ``(images, labels, classes)``.

    ``images``: uint8 array N x H x W (grayscale) or N x H x W x C; all images must share a size.
    ``mode``: a Pillow mode to convert every image to (``'L'``, ``'RGB'``); by default images keep
    their mode, or become RGB when the dataset mixes modes. ``classes``: the sorted class names
    (numbers sort numerically); ``labels[i]`` is the index of image i's class in ``classes``, so for
    classes ``0..k-1`` the label is the class itself.
    """
    with open_archive(path, 'an image dataset') as archive:
        entries = image_entries(archive)
        if not entries:
            raise InvalidDatasetError('the zip has no images (need images.csv or one folder per class)')
        decoded = [decode_image(archive.read(member), member) for member, _ in entries]
    modes = {img.mode for img in decoded}
    target_mode = mode or (decoded[0].mode if len(modes) == 1 else 'RGB')
    if target_mode not in ('L', 'RGB', 'RGBA'):
        target_mode = 'RGB'
    arrays = [np.asarray(img.convert(target_mode) if img.mode != target_mode else img, dtype=np.uint8)
              for img in decoded]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise InvalidDatasetError(f'images differ in size: {sorted(shapes)[:3]}; resize them to one size')
    classes = sorted_classes({c for _, c in entries})
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for _, c in entries], dtype=np.int64)
    classes = [int(c) if c.lstrip('-').isdigit() else c for c in classes]
    return np.stack(arrays), labels, classes


def image_entries(archive: zipfile.ZipFile) -> List[Tuple[str, str]]:
    """``(member, class)`` of every image in an image dataset zip, in the dataset's order."""
    names = [n for n in archive.namelist() if not n.endswith('/') and not n.startswith('__MACOSX/')]
    csv_name = next((n for n in names if os.path.basename(n) == 'images.csv'), None)
    if csv_name is not None:
        base = os.path.dirname(csv_name)
        rows = list(csv.DictReader(io.StringIO(archive.read(csv_name).decode('utf-8-sig'))))
        if not rows or not {'path', 'class'} <= set(rows[0]):
            raise InvalidDatasetError('images.csv needs a header with columns path,class')
        members = set(names)
        entries = []
        for row in rows:
            member = os.path.normpath(os.path.join(base, row['path'])).replace(os.sep, '/')
            if member not in members:
                raise InvalidDatasetError(f'images.csv names {row["path"]!r}, which is not in the zip')
            entries.append((member, str(row['class']).strip()))
        return entries
    images = [n for n in names if n.lower().endswith(IMAGE_SUFFIXES)]
    parts = [n.split('/') for n in images]
    # One folder per class, possibly inside a single top-level folder.
    depth = 2 if parts and all(len(p) == 3 for p in parts) and len({p[0] for p in parts}) == 1 else 1
    entries = []
    for name, p in zip(images, parts):
        if len(p) != depth + 1:
            raise InvalidDatasetError(f'{name!r} is not inside a class folder')
        entries.append((name, p[depth - 1]))
    return entries


def sorted_classes(classes: set) -> list:
    """Class names in label order: numerically when every name is an integer, else alphabetically."""
    if all(c.lstrip('-').isdigit() for c in classes):
        return sorted(classes, key=int)
    return sorted(classes)
