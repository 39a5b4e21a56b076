"""A ``multipart/form-data`` body that streams its files from disk instead of holding them in memory.

``requests`` builds multipart bodies in memory (``files=``); this object is passed as ``data=``
instead. It has a length (so requests sends ``Content-Length`` rather than chunking), a
``read()`` that yields the framing and the file contents piece by piece, and a ``rewind()``
for a retry.
"""
import os
import uuid
from typing import Iterator, Optional

CHUNK_BYTES = 256 << 10


class MultipartStream:
    def __init__(self, fields: dict, files: dict):
        """``fields``: name -> text (None values are left out); ``files``: name -> path of a file to send."""
        self.boundary = uuid.uuid4().hex
        self._parts: list = []          # bytes, or (path, size) for a file
        for name, value in fields.items():
            if value is not None:
                self._parts.append(self._header(name) + str(value).encode('utf-8') + b'\r\n')
        for name, path in files.items():
            size = os.path.getsize(path)
            self._parts += [self._header(name, os.path.basename(path)), (path, size), b'\r\n']
        self._parts.append(f'--{self.boundary}--\r\n'.encode('ascii'))
        self._length = sum(len(p) if isinstance(p, bytes) else p[1] for p in self._parts)
        self._chunks: Optional[Iterator[bytes]] = None
        self._buffer, self._offset = b'', 0

    @property
    def content_type(self) -> str:
        return f'multipart/form-data; boundary={self.boundary}'

    def _header(self, name: str, file_name: Optional[str] = None) -> bytes:
        disposition = f'form-data; name="{_quote(name)}"'
        lines = [f'--{self.boundary}']
        if file_name is None:
            lines.append(f'Content-Disposition: {disposition}')
        else:
            lines += [f'Content-Disposition: {disposition}; filename="{_quote(file_name)}"',
                      'Content-Type: application/octet-stream']
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8')

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if isinstance(part, bytes):
                yield part
            else:
                with open(part[0], 'rb') as f:
                    yield from iter(lambda: f.read(CHUNK_BYTES), b'')

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left when negative); ``b''`` at the end."""
        if self._chunks is None:
            self._chunks = iter(self)
        if size is None or size < 0:
            rest = self._buffer[self._offset:] + b''.join(self._chunks)
            self._buffer, self._offset = b'', 0
            return rest
        while self._offset >= len(self._buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b''
            self._buffer, self._offset = chunk, 0
        out = self._buffer[self._offset:self._offset + size]
        self._offset += len(out)
        return out

    def rewind(self) -> None:
        """Start again from the first byte (a retry sends the same body, boundary included)."""
        if self._chunks is not None:
            self._chunks.close()        # closes a file left open half-read
        self._chunks = None
        self._buffer, self._offset = b'', 0


def _quote(text: str) -> str:
    # As browsers do (HTML form encoding): quote, CR and LF percent-encoded.
    return text.replace('"', '%22').replace('\r', '%0D').replace('\n', '%0A')
