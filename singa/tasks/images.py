"""What the image tasks share: image sizes from file headers, decoding zip members, image queries.

An image query is a nested list of pixel values, ``H x W`` (one channel) or ``H x W x C`` with
``C`` of 1, 3 or 4, every row as long as the first and every pixel of the same depth (SingaAuto's
``W x H x 3`` array; values are not range-checked, so templates may take 0..255 or 0..1).
"""
import io
import zipfile
from typing import Optional

import numpy as np

from singa.errors import InvalidDatasetError, InvalidRequestError
from singa.tasks.base import describe, which

FIELD = 'dataset'
SIZE_SAMPLE = 20                 # images whose headers are read for their width and height
HEADER_BYTES = 64 << 10
IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')
CHANNELS = (1, 3, 4)
_NUMBER = (int, float)           # JSON numbers as parsed (bool is refused: type(True) is bool)


def image_size(head: bytes) -> Optional[tuple[int, int]]:
    """Width and height from the first bytes of an image file (any format Pillow knows), else None.

    Only the header is parsed; the pixels are never decoded.
    """
    from PIL import Image
    try:
        with Image.open(io.BytesIO(head)) as image:
            return tuple(image.size)
    except Exception:   # Pillow's plugins raise many kinds on a foreign or cut-off header: size unknown
        return None


def sample_sizes(zf: zipfile.ZipFile, infos: list) -> list[list[int]]:
    """Distinct ``[width, height]`` of the sampled images whose format is recognised."""
    sizes = set()
    for info in infos:
        try:
            with zf.open(info) as f:
                size = image_size(f.read(HEADER_BYTES))
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
            raise InvalidDatasetError(f'cannot read {info.filename} from the zip', field=FIELD) from None
        if size:
            sizes.add(size)
    return [list(s) for s in sorted(sizes)]


def open_archive(path: str, kind: str) -> zipfile.ZipFile:
    """The dataset zip at ``path`` for a loader (``kind`` names the dataset in the error)."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidDatasetError(f'{kind} must be a zip file: {e}') from e


def decode_image(data: bytes, name: str, mode: Optional[str] = None):
    """A loaded Pillow image from an archive member's bytes (converted to ``mode`` if given)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.convert(mode) if mode and img.mode != mode else img.copy()
    except (UnidentifiedImageError, OSError) as e:
        raise InvalidDatasetError(f'cannot decode image {name!r}: {e}') from e


def check_image_queries(queries: list, task: str) -> None:
    """``InvalidRequestError`` for the first query that is not an image array."""
    for i, query in enumerate(queries):
        problem = image_query_problem(query)
        if problem:
            raise InvalidRequestError(f'{which(i, len(queries))} is not an image: {problem}; {task} queries are '
                                      f'H x W or H x W x C arrays of pixel values (C of 1, 3 or 4)',
                                      field='query' if len(queries) == 1 else 'queries', details={'index': i})


def image_query_problem(query) -> Optional[str]:
    """What is wrong with ``query`` as an image array, or None. One pass over the pixels."""
    if not isinstance(query, list) or not query:
        return f'it is {describe(query)}'
    width, depth = None, None            # depth 0: a pixel is a number
    for r, row in enumerate(query):
        if not isinstance(row, list) or not row:
            return f'row {r} is {describe(row)}, not a list of pixels'
        if width is None:
            width = len(row)
        elif len(row) != width:
            return f'row {r} has {len(row)} pixels, row 0 has {width}'
        for c, pixel in enumerate(row):
            kind = type(pixel)
            if kind in _NUMBER:
                this = 0
            elif kind is list:
                this = len(pixel)
                if this not in CHANNELS:
                    return f'pixel ({r}, {c}) has {this} channels'
                if not all(type(v) in _NUMBER for v in pixel):
                    return f'pixel ({r}, {c}) holds something other than numbers'
            else:
                return f'pixel ({r}, {c}) is {describe(pixel)}'
            if depth is None:
                depth = this
            elif this != depth:
                return f'pixel ({r}, {c}) has {this or "no"} channels, pixel (0, 0) {depth or "none"}'
    return None


def image_queries_to_array(queries) -> np.ndarray:
    """Image queries are nested lists of pixels (H x W or H x W x C), all of one shape."""
    arrays = [np.asarray(q, dtype=np.float64) for q in queries]
    if len({a.shape for a in arrays}) > 1:
        raise ValueError('image queries must all have the same shape')
    return np.stack(arrays) if arrays else np.empty((0,))


def image_queries_to_rgb(queries) -> list[np.ndarray]:
    """Image queries as uint8 RGB arrays ``H x W x 3`` (sizes may differ): one channel is repeated,
    an alpha channel dropped, values clipped to 0..255."""
    images = []
    for q in queries:
        a = np.asarray(q, dtype=np.float64)
        a = a[..., None] if a.ndim == 2 else a
        a = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a[..., :3]
        images.append(np.clip(np.round(a), 0, 255).astype(np.uint8))
    return images


def images_to_queries(images, count: int) -> list:
    """The first ``count`` images of an array (or list of arrays) as predictor queries."""
    return [np.asarray(img).tolist() for img in images[:count]]
