"""``FileParamStore``: parameter files in a directory on shared storage."""
import os
import re
import tempfile
import uuid
from typing import Optional

from singa.errors import NotFoundError, StoreError
from singa.param_store.base import BaseParamStore, Params
from singa.param_store.codec import decode_params, encode_params

_ID = re.compile(r'^(?:[0-9a-f]{32}/)?[0-9a-f]{32}$')
_SCOPE = re.compile(r'^[0-9a-f]{32}$')
SUFFIX = '.params'


class FileParamStore(BaseParamStore):
    """One file ``<root_dir>/[<scope>/]<id>.params`` per saved dict, written to a temporary file in
    the same directory and renamed into place (``os.replace`` is atomic on one file system)."""

    def __init__(self, root_dir: str):
        self.root_dir = os.path.abspath(root_dir)

    def save(self, params: Params, scope: Optional[str] = None) -> str:
        return self._store(encode_params(params), scope)

    def save_encoded(self, data: bytes, scope: Optional[str] = None) -> str:
        decode_params(data)
        return self._store(data, scope)

    def _store(self, data: bytes, scope: Optional[str]) -> str:
        if scope is not None and not _SCOPE.match(scope):
            raise ValueError(f'a parameter scope is 32 hex digits; got {scope!r}')
        params_id = uuid.uuid4().hex if scope is None else f'{scope}/{uuid.uuid4().hex}'
        path = self._path(params_id)
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
            try:
                with os.fdopen(fd, 'wb') as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as e:
            raise StoreError(f'cannot save parameters: {e}', resource='params') from e
        return params_id

    def load(self, params_id: str) -> Params:
        return decode_params(self.load_encoded(params_id))

    def load_encoded(self, params_id: str) -> bytes:
        path = self._checked_path(params_id)
        try:
            with open(path, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFoundError('no such parameters', resource='params', id=params_id) from None
        except OSError as e:
            raise StoreError(f'cannot read parameters: {e}', resource='params', id=params_id) from e
        return data

    def exists(self, params_id: str) -> bool:
        return bool(isinstance(params_id, str) and _ID.match(params_id)) and os.path.isfile(self._path(params_id))

    def delete(self, params_id: str) -> None:
        try:
            os.unlink(self._checked_path(params_id))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f'cannot delete parameters: {e}', resource='params', id=params_id) from e

    def _checked_path(self, params_id) -> str:
        if not isinstance(params_id, str) or not _ID.match(params_id):
            raise NotFoundError('no such parameters', resource='params', id=str(params_id)[:64])
        return self._path(params_id)

    def _path(self, params_id: str) -> str:
        return os.path.join(self.root_dir, params_id + SUFFIX)
