"""Trained parameters uploaded with a template: its checkpoint, deployed with no train job.

The file comes as the ``checkpoint_id`` part of ``POST /models`` (SingaAuto's name for it; its
client's ``model_preload_file_path``). What is accepted, and what it becomes (nothing is ever
unpickled, and everything ends as our parameter file, validated by ``singa.param_store.codec``):

- our parameter file, recognised by its content whatever its name (and required of a file named
  ``*.params``): what a trial's parameters are stored as and ``download_trial_parameters`` saves
  (``get_trial_parameters`` written back with ``codec.encode_params`` too). Kept as it is.
- SingaAuto's ``.model`` file, what its parameter store wrote after training: msgpack of the
  parameter dict, numpy arrays as lists under ``NP//<name>``. Decoded with msgpack (which builds
  only plain values), the arrays rebuilt, then encoded in our format.
- any other file, as SingaAuto took it: a ``.zip`` becomes the one parameter ``zip_file_base64``,
  anything else ``weight_base64``, the file's bytes in base64 (a str), for the template's
  ``load_parameters`` to decode.

A file over ``max_checkpoint_bytes`` is a 413; one that does not decode, or holds a value the
format does not store, an ``InvalidParamsError`` (400) that says so.
"""
import base64
import io
import json
import os
import zipfile
from typing import Optional

import msgpack
import numpy as np

from singa.admin.services import files
from singa.config import Settings
from singa.errors import InvalidParamsError, PayloadTooLargeError
from singa.param_store import codec

FIELD = 'checkpoint_id'
SINGA_AUTO_ARRAY = 'NP//'
PARAMS_SUFFIX = '.params'         # what the admin names a trial's parameters for download


def read_checkpoint(settings: Settings, upload: files.UploadedFile) -> bytes:
    """The uploaded checkpoint as our parameter file (the upload is removed)."""
    try:
        if upload.size > settings.max_checkpoint_bytes:
            raise PayloadTooLargeError(f'the checkpoint is {upload.size} bytes; the limit is '
                                       f'{settings.max_checkpoint_bytes}', field=FIELD)
        if upload.size == 0:
            raise InvalidParamsError('the checkpoint file is empty', field=FIELD)
        with open(upload.path, 'rb') as f:
            data = f.read()
    finally:
        files.remove_quietly(upload.path)
    return to_params_file(data, upload.file_name)


def to_params_file(data: bytes, file_name: Optional[str]) -> bytes:
    """``data`` (a checkpoint file named ``file_name``) as our parameter file; see the module docstring."""
    extension = os.path.splitext(file_name or '')[1].lower()
    if extension == PARAMS_SUFFIX or _claims_our_format(data):
        codec.decode_params(data)         # every entry checked: InvalidParamsError saying what is wrong
        return data
    if extension == '.model':
        return _encode(_from_singa_auto_model(data))
    key = 'zip_file_base64' if extension == '.zip' else 'weight_base64'
    return _encode({key: base64.b64encode(data).decode('ascii')})


def _claims_our_format(data: bytes) -> bool:
    """Whether ``data`` is a zip whose header says it is our parameter file (valid or not)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if archive.getinfo(codec.HEADER).file_size > codec.MAX_HEADER_BYTES:
                return False
            header = json.loads(archive.read(codec.HEADER))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        return False
    return isinstance(header, dict) and header.get('format') == codec.FORMAT


def _from_singa_auto_model(data: bytes) -> dict:
    try:
        simple = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError) as e:
        raise InvalidParamsError(f'the .model checkpoint is not a SingaAuto parameter file (msgpack): {e}',
                                 field=FIELD) from None
    if not isinstance(simple, dict):
        raise InvalidParamsError('the .model checkpoint does not hold a parameter dict', field=FIELD)
    params = {}
    for name, value in simple.items():
        if name.startswith(SINGA_AUTO_ARRAY):
            name = name[len(SINGA_AUTO_ARRAY):]
            try:
                value = np.array(value)
            except ValueError as e:
                raise InvalidParamsError(f'parameter {name!r}: not an array: {e}', field=FIELD) from None
        params[name] = value
    return params


def _encode(params: dict) -> bytes:
    try:
        return codec.encode_params(params)
    except InvalidParamsError as e:
        raise InvalidParamsError(f'the checkpoint holds what this platform does not store: {e.message}',
                                 field=FIELD) from None
