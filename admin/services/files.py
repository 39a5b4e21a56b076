"""Files on shared storage. Stored names are always made here, never taken from user input.

Layout under ``settings.storage_dir``: ``data/<dataset id>.<zip|csv>`` (datasets, mounted read-only
into workers) and ``models/<model id>/template.<py|zip>`` (the copy of a template workers import).
Everything is written to a temporary name in the target directory and renamed into place.
"""
import logging
import os
import tempfile
from dataclasses import dataclass

from singa.config import Settings

log = logging.getLogger(__name__)

DATA_DIR = 'data'
MODELS_DIR = 'models'
UPLOAD_PREFIX = '.upload-'


@dataclass(frozen=True)
class UploadedFile:
    """An upload already on disk, at a temporary name in the directory it will be stored in."""
    path: str
    size: int
    file_name: str      # the name the client gave; for display only


def storage_path(settings: Settings, relative: str) -> str:
    return os.path.join(settings.storage_dir, relative)


def upload_dir(settings: Settings) -> str:
    """Where uploads are streamed to: the dataset directory, so a dataset is stored by a rename."""
    return storage_path(settings, DATA_DIR)


def ensure_storage(settings: Settings) -> None:
    for sub in (DATA_DIR, MODELS_DIR):
        os.makedirs(storage_path(settings, sub), exist_ok=True)


def new_upload_file(directory: str):
    """An open, named temporary file for an upload; the caller removes it if it is not stored."""
    os.makedirs(directory, exist_ok=True)
    return tempfile.NamedTemporaryFile('wb+', dir=directory, prefix=UPLOAD_PREFIX, delete=False)


def write_atomically(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=UPLOAD_PREFIX)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        log.warning('could not remove %s: %s', path, e)
