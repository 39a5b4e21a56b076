"""Images uploaded to ``POST /`` (the original SingaAuto's contract): each multipart field named
``img`` is one query, decoded to the query format of image tasks, nested lists of pixels
(``H x W`` for a grayscale image, ``H x W x 3`` for any other, values 0 to 255).

Checked before anything is queued: only ``img`` fields, at most ``max_queries`` of them, none
empty, and at most ``max_image_pixels`` pixels in all of them, read from each image's header
before its pixels are decoded (so a small file that would expand to a huge image costs nothing).
A file Pillow cannot decode is a 400 that names it; too many pixels is a 413.
"""
import io

import numpy as np
from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict

from singa.errors import InvalidRequestError, PayloadTooLargeError
from singa.workers.predictor.body import BodyLimits, PredictBody

FIELD = 'img'
GRAY_MODES = frozenset({'1', 'L', 'LA', 'La', 'I', 'I;16', 'I;16L', 'I;16B', 'I;16N', 'F'})


def parse_image_upload(files: MultiDict, form: MultiDict, limits: BodyLimits, size: int) -> PredictBody:
    """One query per ``img`` file of a multipart body (``size``: the body's bytes)."""
    others = sorted((set(files) | set(form)) - {FIELD})
    if others:
        raise InvalidRequestError(f'unknown field(s) {", ".join(others)}: send each image as a file in a multipart '
                                  f'field named "{FIELD}"', field=others[0])
    if FIELD in form:
        raise InvalidRequestError(f'{FIELD} must be sent as a file, not as a text field', field=FIELD)
    parts = files.getlist(FIELD)
    if not parts:
        raise InvalidRequestError(f'send at least one image as a file in a multipart field named "{FIELD}"',
                                  field=FIELD)
    if len(parts) > limits.max_queries:
        raise InvalidRequestError(f'send at most {limits.max_queries} images per request', field=FIELD)
    left = limits.max_image_pixels
    queries = []
    for number, part in enumerate(parts, 1):
        pixels, query = _decode(part, number, left, limits.max_image_pixels)
        left -= pixels
        queries.append(query)
    return PredictBody(queries, single=False, details=False, size=size)


def _decode(part: FileStorage, number: int, left: int, limit: int) -> tuple[int, list]:
    """``(pixels, query)`` of one image, refused before its pixels are decoded if it holds more
    than the ``left`` pixels of the request's ``limit``."""
    data = part.read()
    name = f'image {number}' + (f' ({part.filename})' if part.filename else '')
    if not data:
        raise InvalidRequestError(f'{name} is empty', field=FIELD)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > left:
                raise PayloadTooLargeError(f'{name} is {width} x {height} pixels: the images of one request may '
                                           f'hold at most {limit} pixels in all', field=FIELD)
            pixels = np.asarray(image.convert('L' if image.mode in GRAY_MODES else 'RGB'))
    except PayloadTooLargeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise InvalidRequestError(f'{name} is not an image this predictor can decode: {e}', field=FIELD) from None
    return width * height, pixels.tolist()
