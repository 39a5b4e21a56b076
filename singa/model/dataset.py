"""Dataset helpers for model templates.

* ``load_image_dataset(path)``: an ``IMAGE_CLASSIFICATION`` zip, either with ``images.csv``
  (columns ``path,class``) or with one folder per class, decoded to arrays.
* ``load_tabular_dataset(path, features=None, target=None)``: a CSV with a header (or a zip
  holding one), split into numeric features and a target (default: the last column).
* ``tabular_queries_to_array(queries, feature_names)`` and ``image_queries_to_array(queries)``:
  turn predictor queries into model input (a tabular query lacking a trained feature is refused).

Zip members are read in memory, never extracted, so paths inside an archive cannot escape.
"""
import csv
import io
import os
import zipfile
from typing import List, Optional, Sequence, Tuple

import numpy as np

from singa.errors import InvalidDatasetError

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')


def load_image_dataset(path: str, mode: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, list]:
    """Return ``(images, labels, classes)``.

    ``images``: uint8 array N x H x W (grayscale) or N x H x W x C; all images must share a size.
    ``mode``: a Pillow mode to convert every image to (``'L'``, ``'RGB'``); by default images keep
    their mode, or become RGB when the dataset mixes modes. ``classes``: the sorted class names
    (numbers sort numerically); ``labels[i]`` is the index of image i's class in ``classes``, so for
    classes ``0..k-1`` the label is the class itself.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidDatasetError(f'an image dataset must be a zip file: {e}') from e
    with archive:
        entries = image_entries(archive)
        if not entries:
            raise InvalidDatasetError('the zip has no images (need images.csv or one folder per class)')
        decoded = []
        for member, _ in entries:
            try:
                with Image.open(io.BytesIO(archive.read(member))) as img:
                    img.load()
                    decoded.append(img.copy())
            except (UnidentifiedImageError, OSError) as e:
                raise InvalidDatasetError(f'cannot decode image {member!r}: {e}') from e
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


def load_tabular_dataset(path: str, features: Optional[Sequence[str]] = None,
                         target: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Return ``(X, y, feature_names)``: X float64 (empty cells become NaN); y numeric when every
    target value is a number (int64 if all integral), else strings."""
    header, rows = _read_csv(path)
    target = target or header[-1]
    if target not in header:
        raise InvalidDatasetError(f'target column {target!r} is not in the CSV; columns: {", ".join(header)}')
    features = list(features) if features else [c for c in header if c != target]
    missing = [c for c in features if c not in header]
    if missing:
        raise InvalidDatasetError(f'feature columns not in the CSV: {", ".join(missing)}')
    cols = {c: header.index(c) for c in features + [target]}
    X = np.empty((len(rows), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        for i, row in enumerate(rows):
            cell = row[cols[name]].strip()
            try:
                X[i, j] = float(cell) if cell else np.nan
            except ValueError:
                raise InvalidDatasetError(f'column {name!r}, row {i + 2}: {cell!r} is not a number') from None
    return X, _target_array([row[cols[target]].strip() for row in rows]), features


def _read_csv(path: str) -> Tuple[List[str], List[List[str]]]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                csvs = [n for n in archive.namelist() if n.lower().endswith('.csv')]
                if len(csvs) != 1:
                    raise InvalidDatasetError('a zipped tabular dataset must hold exactly one .csv file')
                text = archive.read(csvs[0]).decode('utf-8-sig')
        else:
            with open(path, encoding='utf-8-sig', newline='') as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidDatasetError(f'cannot read the CSV: {e}') from e
    reader = list(csv.reader(io.StringIO(text)))
    if len(reader) < 2:
        raise InvalidDatasetError('the CSV needs a header row and at least one data row')
    header = [h.strip() for h in reader[0]]
    rows = [r for r in reader[1:] if r]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
    if bad is not None:
        raise InvalidDatasetError(f'row {bad + 2} has {len(rows[bad])} cells; the header has {len(header)}')
    return header, rows


def _target_array(values: List[str]) -> np.ndarray:
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


MAX_NAMED_FEATURES = 20   # an error names at most this many features (and counts the rest)


def tabular_queries_to_array(queries: Sequence, feature_names: Sequence[str]) -> np.ndarray:
    """Model input from tabular queries: each a dict ``feature -> value`` or a row of values in
    ``feature_names``' order.

    A dict must name every feature the model was trained on; one that lacks some is refused with
    a ``ValueError`` naming them (so a mistyped or forgotten column is never guessed). A value of
    ``None`` (JSON ``null``) is an explicitly missing value and becomes NaN, as an empty CSV cell
    does in training; templates impute it as they impute those. Keys that are not features (the
    target, an identifier, columns the model was not trained on) are ignored, so a whole dataset
    row can be sent as it is.
    """
    X = np.full((len(queries), len(feature_names)), np.nan)
    for i, q in enumerate(queries):
        which = f'query {i}' if len(queries) > 1 else 'the query'
        if isinstance(q, dict):
            missing = [name for name in feature_names if name not in q]
            if missing:
                raise ValueError(f'{which} lacks {len(missing)} of the {len(feature_names)} features the model '
                                 f'was trained on: {_names(missing)} (send null for a value that is unknown)')
            for j, name in enumerate(feature_names):
                X[i, j] = _number(q[name], which, name)
        else:
            if len(q) != len(feature_names):
                raise ValueError(f'{which} has {len(q)} values; expected {len(feature_names)}')
            X[i] = [_number(v, which, name) for v, name in zip(q, feature_names)]
    return X


def _number(value, which: str, name: str) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{which}: feature {name!r} must be a number or null; got {value!r:.40}') from None


def _names(names: Sequence[str]) -> str:
    shown = ', '.join(names[:MAX_NAMED_FEATURES])
    return shown if len(names) <= MAX_NAMED_FEATURES else f'{shown} and {len(names) - MAX_NAMED_FEATURES} more'


def image_queries_to_array(queries: Sequence) -> np.ndarray:
    """Image queries are nested lists of pixels (H x W or H x W x C), all of one shape."""
    arrays = [np.asarray(q, dtype=np.float64) for q in queries]
    if len({a.shape for a in arrays}) > 1:
        raise ValueError('image queries must all have the same shape')
    return np.stack(arrays) if arrays else np.empty((0,))
