"""IMAGE_CLASSIFICATION datasets: a zip with ``images.csv`` (``path,class``) or one folder per class.

``check_image_zip(path) -> stat`` reads only the archive's directory, ``images.csv`` and the first
bytes of a few images (for their sizes); it never extracts anything.
"""
import csv
import io
import posixpath
import zipfile
from collections import Counter
from typing import Optional

from PIL import Image

from singa.admin.services.archives import is_ignorable, open_zip, read_member, safe_members
from singa.errors import InvalidDatasetError

FIELD = 'dataset'
IMAGES_CSV = 'images.csv'
MAX_IMAGES_CSV_BYTES = 256 << 20
SIZE_SAMPLE = 20                 # images whose headers are read for their width and height
_HEADER_BYTES = 64 << 10


def check_image_zip(path: str) -> dict:
    with open_zip(path, InvalidDatasetError, FIELD) as zf:
        files = [i for i in safe_members(zf, InvalidDatasetError, FIELD) if not is_ignorable(i.filename)]
        by_name = {i.filename: i for i in files}
        if IMAGES_CSV in by_name:
            stat, images = _check_images_csv(zf, by_name)
        else:
            stat, images = _check_class_folders(files)
        stat['image_sizes'] = _sample_sizes(zf, images[:SIZE_SAMPLE])
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


def _sample_sizes(zf: zipfile.ZipFile, infos: list) -> list[list[int]]:
    """Distinct ``[width, height]`` of the sampled images whose format is recognised."""
    sizes = set()
    for info in infos:
        try:
            with zf.open(info) as f:
                size = image_size(f.read(_HEADER_BYTES))
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
            raise InvalidDatasetError(f'cannot read {info.filename} from the zip', field=FIELD) from None
        if size:
            sizes.add(size)
    return [list(s) for s in sorted(sizes)]


def image_size(head: bytes) -> Optional[tuple[int, int]]:
    """Width and height from the first bytes of an image file (any format Pillow knows), else None.

    Only the header is parsed; the pixels are never decoded.
    """
    try:
        with Image.open(io.BytesIO(head)) as image:
            return tuple(image.size)
    except Exception:   # Pillow's plugins raise many kinds on a foreign or cut-off header: size unknown
        return None
