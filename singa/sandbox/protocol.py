"""The pipe protocol between a trusted runner and the model code it drives in a sandbox.

One frame is a 4-byte big-endian header length, a JSON object (the header), and, when the header
has ``"payload": N``, N raw bytes (a template file, encoded parameters). Everything a child sends
is data from untrusted code: ``read_frame`` refuses a header or payload over its caps, anything
that is not a JSON object, and NaN or infinities, and raises ``ProtocolError``; the runner then
treats the child as broken and kills it.

Frames from the runner (``op``): ``load`` (a template: payload = its bytes), ``inspect``,
``train``, ``serve`` (knobs; payload = parameters), ``predict``, ``report_reply``, ``teardown``.
Frames from the child: ``{"event": "log", "line": ...}`` and ``{"event": "report", ...}`` while
a trial runs, and one ``{"done": true, "ok": ..., ...}`` per operation.
"""
import json
import math
import os
import struct
from typing import Optional, Tuple

_LENGTH = struct.Struct('>I')
MAX_HEADER_BYTES = 64 << 20
# A parameter payload from the child: trained parameters of a large model.
MAX_PAYLOAD_BYTES = 8 << 30


class ProtocolError(Exception):
    """A frame that breaks the protocol, or the other side closed the pipe."""


def write_frame(fd: int, header: dict, payload: Optional[bytes] = None) -> None:
    """Send one frame on ``fd`` (blocking until all of it is written)."""
    if payload is not None:
        header = dict(header, payload=len(payload))
    body = json.dumps(header, separators=(',', ':'), allow_nan=False).encode()
    _write_all(fd, _LENGTH.pack(len(body)) + body)
    if payload:
        _write_all(fd, payload)


def read_frame(fd: int, max_header: int = MAX_HEADER_BYTES,
               max_payload: int = MAX_PAYLOAD_BYTES) -> Tuple[dict, Optional[bytes]]:
    """The next frame on ``fd``: ``(header, payload or None)``. ``ProtocolError`` at end of file
    or on anything malformed or over the caps."""
    (length,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
    if length > max_header:
        raise ProtocolError(f'a frame header of {length} bytes is over the {max_header}-byte limit')
    try:
        header = json.loads(_read_exactly(fd, length), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f'a frame header is not JSON: {e}') from None
    if not isinstance(header, dict):
        raise ProtocolError('a frame header is not a JSON object')
    size = header.get('payload')
    if size is None:
        return header, None
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= max_payload:
        raise ProtocolError(f'a frame payload of {size!r} bytes is over the {max_payload}-byte limit')
    return header, _read_exactly(fd, size)


def _refuse_constant(name: str):
    raise ValueError(f'{name} is not allowed')


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except (BrokenPipeError, OSError) as e:
        raise ProtocolError(f'the other side closed the pipe ({e})') from None


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except OSError as e:
            raise ProtocolError(f'reading the pipe failed ({e})') from None
        if not chunk:
            raise ProtocolError('the other side closed the pipe')
        chunks.append(chunk)
        left -= len(chunk)
    return b''.join(chunks)


def finite_number(value) -> Optional[float]:
    """``value`` as a finite float, or None when it is not one (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None
