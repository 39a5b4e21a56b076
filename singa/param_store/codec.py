"""The parameter file format: no pickle, dtype and shape preserved.

A parameter file is a zip archive (stored, not compressed) with:

* ``params.json``: ``{"format": "singa-params", "version": 1, "entries": {name: entry}}`` where an
  entry is ``{"kind": "str"|"int"|"float"|"bool", "value": ...}`` or
  ``{"kind": "bytes"|"ndarray"|"npscalar", "member": "<member name>"}``;
* one member per bytes value (raw) and per numpy array or numpy scalar (a ``.npy`` file, read
  back with ``np.load(allow_pickle=False)``).

Allowed values: str, int, float (NaN and infinities too), bool, bytes, numpy arrays and numpy
scalars of bool or numeric dtype (any shape). Keys are non-empty strings. Anything else, object
dtypes included, raises ``InvalidParamsError``; so does a corrupt or foreign file on decode.
"""
import io
import json
import zipfile
from typing import Any, Dict

import numpy as np

from singa.errors import InvalidParamsError

FORMAT = 'singa-params'
VERSION = 1
HEADER = 'params.json'
NUMERIC_KINDS = 'biufc'   # bool, signed, unsigned, float, complex
MAX_HEADER_BYTES = 64 << 20


def _check_array(name: str, value: np.ndarray) -> None:
    if value.dtype.kind not in NUMERIC_KINDS or value.dtype.fields is not None:
        raise InvalidParamsError(f'parameter {name!r}: numpy dtype {value.dtype} is not allowed '
                                 '(only bool and numeric dtypes)', field=name)


def encode_params(params: Dict[str, Any]) -> bytes:
    """Serialise a parameter dict to bytes (see the module docstring)."""
    if not isinstance(params, dict):
        raise InvalidParamsError(f'parameters must be a dict; got {type(params).__name__}')
    entries, members = {}, []
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise InvalidParamsError(f'parameter names must be non-empty strings; got {name!r}')
        member = f'm{len(members)}'
        if isinstance(value, bool):
            entries[name] = {'kind': 'bool', 'value': value}
        elif isinstance(value, int):
            entries[name] = {'kind': 'int', 'value': value}
        elif isinstance(value, float):
            entries[name] = {'kind': 'float', 'value': repr(value)}
        elif isinstance(value, str):
            entries[name] = {'kind': 'str', 'value': value}
        elif isinstance(value, (bytes, bytearray, memoryview)):
            entries[name] = {'kind': 'bytes', 'member': member + '.bin'}
            members.append((member + '.bin', bytes(value)))
        elif isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            _check_array(name, array)
            kind = 'ndarray' if isinstance(value, np.ndarray) else 'npscalar'
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(array) if array.ndim else array, allow_pickle=False)
            entries[name] = {'kind': kind, 'member': member + '.npy'}
            members.append((member + '.npy', buf.getvalue()))
        else:
            raise InvalidParamsError(
                f'parameter {name!r} has type {type(value).__name__}; allowed: str, int, float, bool, '
                'bytes, numpy arrays', field=name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as archive:
        archive.writestr(HEADER, json.dumps({'format': FORMAT, 'version': VERSION, 'entries': entries}))
        for member_name, data in members:
            archive.writestr(member_name, data)
    return out.getvalue()


def decode_params(data: bytes) -> Dict[str, Any]:
    """Rebuild the parameter dict written by ``encode_params``. Never unpickles anything."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        info = archive.getinfo(HEADER)
        if info.file_size > MAX_HEADER_BYTES:
            raise InvalidParamsError('parameter header too large')
        header = json.loads(archive.read(HEADER))
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as e:
        raise InvalidParamsError(f'not a SingaAuto parameter file: {e}') from e
    if not isinstance(header, dict) or header.get('format') != FORMAT or header.get('version') != VERSION:
        raise InvalidParamsError('not a SingaAuto parameter file (bad header)')
    params = {}
    for name, entry in (header.get('entries') or {}).items():
        params[name] = _decode_entry(archive, name, entry)
    return params


def _decode_entry(archive: zipfile.ZipFile, name: str, entry) -> Any:
    kind = entry.get('kind') if isinstance(entry, dict) else None
    value = entry.get('value') if isinstance(entry, dict) else None
    if kind == 'bool' and isinstance(value, bool):
        return value
    if kind == 'int' and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == 'float' and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    elif kind == 'str' and isinstance(value, str):
        return value
    elif kind in ('bytes', 'ndarray', 'npscalar'):
        try:
            raw = archive.read(str(entry.get('member')))
        except KeyError as e:
            raise InvalidParamsError(f'parameter {name!r}: missing member', field=name) from e
        if kind == 'bytes':
            return raw
        try:
            array = np.load(io.BytesIO(raw), allow_pickle=False)
        except ValueError as e:   # object arrays need pickle: refused here
            raise InvalidParamsError(f'parameter {name!r}: bad array: {e}', field=name) from e
        if not isinstance(array, np.ndarray):
            raise InvalidParamsError(f'parameter {name!r}: bad array member', field=name)
        _check_array(name, array)
        return array[()] if kind == 'npscalar' else array
    raise InvalidParamsError(f'parameter {name!r}: malformed entry', field=name)
