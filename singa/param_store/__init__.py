"""Trained parameters on shared storage: a safe format (``codec``), a store ABC and its factory."""
import os

from singa.param_store.base import BaseParamStore, Params
from singa.param_store.codec import decode_params, encode_params
from singa.param_store.file import FileParamStore


def make_param_store(settings) -> BaseParamStore:
    """The parameter store for these settings: files under ``<settings.storage_dir>/params``."""
    return FileParamStore(os.path.join(settings.storage_dir, 'params'))


__all__ = ['BaseParamStore', 'FileParamStore', 'Params', 'encode_params', 'decode_params',
           'make_param_store']
