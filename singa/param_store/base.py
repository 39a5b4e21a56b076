"""``BaseParamStore``: where trained parameters live (the swap point; contract below)."""
from abc import ABC, abstractmethod
from typing import Optional, Any, Dict

Params = Dict[str, Any]


class BaseParamStore(ABC):
    """Stores trained parameter dicts under ids it generates itself.

    Contract, for every implementation:

    * ``save(params, scope=None) -> params_id``: validates and encodes ``params`` with
      ``singa.param_store.codec`` (``InvalidParamsError`` for a disallowed type), stores them
      atomically (a reader sees the whole blob or nothing) and returns a new opaque id string.
      Ids are never derived from user input. ``scope`` (32 hex digits: a sub-train job's id) keeps
      the blob with the others of that scope, so that a worker can be given just their folder.
    * ``save_encoded(data, scope=None) -> params_id``: the same for a blob already encoded (by a
      sandboxed child): it must decode (``InvalidParamsError`` otherwise) and is stored as given.
    * ``load(params_id) -> dict``: the same dict (dtype and shape of arrays kept). An id that is
      malformed or unknown raises ``NotFoundError``; a corrupt blob raises ``InvalidParamsError``.
    * ``load_encoded(params_id) -> bytes``: the stored blob as ``codec.encode_params`` wrote it (what
      the admin serves for download; the client decodes it with ``codec.decode_params``). Same errors
      as ``load`` for a bad id.
    * ``exists(params_id) -> bool``: False for malformed or unknown ids.
    * ``delete(params_id)``: removes the blob; deleting an unknown id is not an error.
    * Nothing is ever unpickled.
    """

    @abstractmethod
    def save(self, params: Params, scope: Optional[str] = None) -> str:
        ...

    @abstractmethod
    def save_encoded(self, data: bytes, scope: Optional[str] = None) -> str:
        ...

    @abstractmethod
    def load(self, params_id: str) -> Params:
        ...

    @abstractmethod
    def load_encoded(self, params_id: str) -> bytes:
        ...

    @abstractmethod
    def exists(self, params_id: str) -> bool:
        ...

    @abstractmethod
    def delete(self, params_id: str) -> None:
        ...
