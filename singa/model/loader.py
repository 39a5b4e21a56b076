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
                     module_file: Optional[str] = None) -> Type[BaseModel]:
    """Import the template at ``file_path`` under a unique module name and return ``class_name``.

    ``file_kind='zip'``: the archive is extracted to a fresh temporary directory (entries that
    would escape it are refused), that directory and the module's own go on ``sys.path`` so the module can
    import its siblings, and ``module_file`` (e.g. ``'model.py'`` or ``'pkg/model.py'``) is the module to load.
    Raises ``InvalidModelError`` saying what is wrong.
    """
    if file_kind not in FILE_KINDS:
        raise InvalidModelError(f'model file kind must be one of {", ".join(FILE_KINDS)}; got {file_kind!r}')
    if file_kind == 'zip':
        if not module_file:
            raise InvalidModelError('a zip template needs module_file: the .py file inside it to load')
        root = extract_zip(file_path)
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


def extract_zip(file_path: str, into: Optional[str] = None) -> str:
    """Extract a zip to a new directory, refusing absolute paths, ``..`` and symlinks."""
    root = os.path.realpath(into or tempfile.mkdtemp(prefix='singa-template-'))
    try:
        with zipfile.ZipFile(file_path) as archive:
            for info in archive.infolist():
                target = os.path.realpath(os.path.join(root, info.filename))
                is_link = (info.external_attr >> 16) & 0o170000 == 0o120000
                if is_link or not (target == root or target.startswith(root + os.sep)):
                    raise InvalidModelError(f'zip entry {info.filename!r} is not allowed')
            archive.extractall(root)
    except zipfile.BadZipFile as e:
        raise InvalidModelError(f'not a valid zip file: {e}') from e
    return root
