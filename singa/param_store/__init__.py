"""Trained parameters on shared storage: a safe format (``codec``), a store ABC and its factory."""
import os

from singa.param_store.base import BaseParamStore, Params
from singa.param_store.codec import decode_params, encode_params
from singa.param_store.file import SUFFIX, FileParamStore


PARAMS_DIR = 'params'


def make_param_store(settings) -> BaseParamStore:
    """The parameter store for these settings: files under ``<settings.storage_dir>/params``."""
    return FileParamStore(os.path.join(settings.storage_dir, PARAMS_DIR))


def params_relative_path(params_id: str) -> str:
    """Where ``make_param_store``'s store keeps ``params_id``, relative to the storage root."""
    return f'{PARAMS_DIR}/{params_id}{SUFFIX}'


def param_scope(sub_job_id) -> str:
    """The parameter scope of a sub-train job (its trials' parameters are kept together): its id
    as 32 hex digits."""
    import uuid
    return uuid.UUID(str(sub_job_id)).hex


def scope_relative_path(scope: str) -> str:
    """The folder of one parameter scope (a sub-train job's parameters), relative to the storage root."""
    return f'{PARAMS_DIR}/{scope}'


__all__ = ['BaseParamStore', 'FileParamStore', 'Params', 'encode_params', 'decode_params',
           'make_param_store', 'param_scope', 'params_relative_path', 'scope_relative_path']
