"""SingaAuto's ``singa_auto.model.utils``: the global ``utils`` object (``utils.dataset``,
``utils.logger``) and the helpers SingaAuto exported next to it.

Knob configs are serialised as JSON text with our codec, not pickled; a template is loaded with
our loader (its own module name, zips extracted safely), not imported from the working directory.
"""
import json
import os
import tempfile
from typing import Optional, Type

from singa.model.knob import deserialize_knob_config as _from_json, serialize_knob_config as _to_json
from singa.model.loader import load_model_class as _load_model_class

from ..datasets import DatasetUtils
from .log import logger as _logger
from .model import BaseModel


class ModelUtils:
    def __init__(self):
        self.dataset = DatasetUtils()
        self.logger = _logger


utils = ModelUtils()
logger = utils.logger
dataset = utils.dataset


def load_model_class(model_file_bytes: bytes, model_class: str, temp_mod_name: Optional[str] = None,
                     model_type: str = 'py', model_file_name: Optional[str] = None) -> Type[BaseModel]:
    """The class ``model_class`` of a template given as bytes: a ``.py`` file, or a zip
    (``model_type='zip'``) whose module ``model_file_name`` (``pkg.module`` or ``pkg/module.py``)
    holds it. ``temp_mod_name`` is accepted and unused (every template gets a module of its own)."""
    module_file = None
    if model_type == 'zip' and model_file_name:
        module_file = model_file_name if model_file_name.endswith('.py') \
            else model_file_name.replace('.', '/') + '.py'
    handle, path = tempfile.mkstemp(suffix=f'.{model_type}')
    try:
        with os.fdopen(handle, 'wb') as f:
            f.write(model_file_bytes)
        return _load_model_class(path, model_class, model_type, module_file)
    finally:
        os.remove(path)


def parse_model_install_command(dependencies: dict, enable_gpu: bool = False) -> str:
    """The pip commands that install ``{package: version}`` (TensorFlow's GPU build with ``enable_gpu``)."""
    commands = []
    for name, version in (dependencies or {}).items():
        if name == 'tensorflow' and enable_gpu:
            name = 'tensorflow-gpu'
        commands.append(f'pip --no-cache-dir install {name}=={version}' if version
                        else f'pip --no-cache-dir install {name}')
    return '; '.join(commands)


def serialize_knob_config(knob_config: dict) -> str:
    """The knob config as JSON text (SingaAuto pickled it)."""
    return json.dumps(_to_json(knob_config))


def deserialize_knob_config(knob_config_str: str) -> dict:
    return _from_json(json.loads(knob_config_str))


__all__ = ['ModelUtils', 'utils', 'logger', 'dataset', 'load_model_class', 'parse_model_install_command',
           'serialize_knob_config', 'deserialize_knob_config']
