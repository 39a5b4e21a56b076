"""Import a model template from a ``.py`` file or a ``.zip`` (used inside workers and the
inspection process only: this runs the template's code)."""
import importlib.util
import os
import sys
import tempfile
import uuid
import zipfile
from typing import Optional, Type

from singa.errors import InvalidModelError
from singa.model.model import BaseModel

FILE_KINDS = ('py', 'zip')


def load_model_class(file_path: str, class_name: str, file_kind: str = 'py',
                     module_file: Optional[str] = None, extract_to: Optional[str] = None) -> Type[BaseModel]:
    """Import the template at ``file_path`` under a unique module name and return ``class_name``.

    ``file_kind='zip'``: the archive is extracted to ``extract_to`` (in a sandbox: its private
    directory, removed with it; by default a fresh temporary directory), refusing entries that
    would escape it and archives over the size limits, that directory and the module's own go on
    ``sys.path`` so the module can import its siblings, and ``module_file`` (e.g. ``'model.py'`` or
    ``'pkg/model.py'``) is the module to load. Raises ``InvalidModelError`` saying what is wrong.
    """
    if file_kind not in FILE_KINDS:
        raise InvalidModelError(f'model file kind must be one of {", ".join(FILE_KINDS)}; got {file_kind!r}')
    if file_kind == 'zip':
        if not module_file:
            raise InvalidModelError('a zip template needs module_file: the .py file inside it to load')
        root = extract_zip(file_path, extract_to)
        module_path = os.path.normpath(os.path.join(root, module_file))
        if not module_path.startswith(root + os.sep) or not os.path.isfile(module_path):
            raise InvalidModelError(f'module file {module_file!r} not found in the zip')
        for folder in {root, os.path.dirname(module_path)}:
            if folder not in sys.path:
                sys.path.insert(0, folder)
    else:
        module_path = file_path
    module = _import_file(module_path)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise InvalidModelError(f'class {class_name} not found in the model file')
    if not isinstance(cls, type) or not issubclass(cls, BaseModel):
        raise InvalidModelError(f'{class_name} is not a BaseModel subclass '
                                '(subclass singa.model.BaseModel)')
    return cls


def _import_file(path: str):
    name = f'singa_template_{uuid.uuid4().hex}'
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidModelError(f'cannot import {os.path.basename(path)!r} as a Python module')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise InvalidModelError(f'syntax error at line {e.lineno}: {e.msg}') from e
    except BaseException as e:  # the template's own import-time failure, whatever it is
        sys.modules.pop(name, None)
        if isinstance(e, KeyboardInterrupt):
            raise
        raise InvalidModelError(f'importing the model file failed: {type(e).__name__}: {e}') from e
    return module


# Limits of a template archive, counted over every entry (small ones too): what it may expand to,
# and how much smaller than that it may be stored.
MAX_ZIP_TOTAL_BYTES = 1 << 30
MAX_ZIP_RATIO = 200
MAX_ZIP_ENTRIES = 10_000


def extract_zip(file_path: str, into: Optional[str] = None) -> str:
    """Extract a zip to a new directory, refusing absolute paths, ``..``, symlinks, and archives
    that expand to more than ``MAX_ZIP_TOTAL_BYTES`` or ``MAX_ZIP_RATIO`` times their stored size."""
    root = os.path.realpath(into or tempfile.mkdtemp(prefix='singa-template-'))
    os.makedirs(root, exist_ok=True)
    try:
        with zipfile.ZipFile(file_path) as archive:
            infos = archive.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise InvalidModelError(f'the zip has {len(infos)} entries; at most {MAX_ZIP_ENTRIES} are allowed')
            expanded = sum(info.file_size for info in infos)
            stored = sum(info.compress_size for info in infos)
            if expanded > MAX_ZIP_TOTAL_BYTES:
                raise InvalidModelError(f'the zip expands to {expanded} bytes; at most {MAX_ZIP_TOTAL_BYTES} are allowed')
            if expanded > MAX_ZIP_RATIO * max(stored, 1) and expanded > (1 << 16):
                raise InvalidModelError(f'the zip expands {expanded // max(stored, 1)} times; refusing a possible '
                                        f'zip bomb (at most {MAX_ZIP_RATIO} times)')
            for info in infos:
                target = os.path.realpath(os.path.join(root, info.filename))
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if is_link or not (target == root or target.startswith(root + os.sep)):
                    raise InvalidModelError(f'zip entry {info.filename!r} is not allowed')
            for info in infos:
                _extract_bounded(archive, info, root)
    except zipfile.BadZipFile as e:
        raise InvalidModelError(f'not a valid zip file: {e}') from e
    return root


def _extract_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: str) -> None:
    """Extract one entry, stopping at its declared size whatever the compressed stream holds."""
    target = os.path.join(root, info.filename)
    if info.is_dir():
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with archive.open(info) as source, open(target, 'wb') as out:
        left = info.file_size
        while left > 0:
            chunk = source.read(min(left, 1 << 20))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
