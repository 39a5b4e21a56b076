"""SingaAuto's ``BaseModel`` and task base classes, as subclasses of ours.

A template that subclasses ``singa_auto.model.BaseModel`` is a ``singa.model.BaseModel``, so the
platform loads, checks, trains and serves it as any other. Where SingaAuto accepted what our
contract refuses, the class is adapted when the template's class is created
(``__init_subclass__``), so the strict checks of ``singa.*`` see a template that keeps them:

- ``get_knob_config`` written as an instance method (``def get_knob_config(self)``) becomes a
  static method that calls it on an instance made without ``__init__``; one that returns
  ``None`` declares no knobs (``{}``).
- ``dump_parameters()`` may return values the parameter format does not store: ``None`` (the
  original tabular templates dump ``target=self._target``), lists, tuples, dicts and numpy arrays
  of strings (SingaAuto's msgpack store kept them). They travel JSON-encoded under one reserved
  parameter, ``__singa_auto_json__``, and ``load_parameters()``, and ``train()``'s
  ``shared_params``, get them back as they were dumped (tuples as lists, string arrays as arrays).
- ``__init__(**knobs)`` stores nothing, as SingaAuto's did.
"""
import functools
import json
from typing import Any, Dict, Union

import numpy as np

from singa.model import BaseModel as _OurBaseModel
from singa.model.knob import BaseKnob

KnobConfig = Dict[str, BaseKnob]
Knobs = Dict[str, Any]
Params = Dict[str, Union[str, int, float, np.ndarray]]

JSON_PARAMS = '__singa_auto_json__'
_STORED = (str, int, float, bool, bytes, bytearray, np.generic)


def _stored_as_is(value) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind in 'biufc' and value.dtype.fields is None
    return isinstance(value, _STORED)


def pack_params(params):
    """``params`` with every value the parameter format does not store moved, JSON-encoded, into
    ``JSON_PARAMS`` (merged with what is already there, for a subclass adding to its parent's)."""
    if not isinstance(params, dict):
        return params
    packed = json.loads(params[JSON_PARAMS]) if isinstance(params.get(JSON_PARAMS), str) else {}
    out = {}
    for name, value in params.items():
        if name == JSON_PARAMS:
            continue
        if _stored_as_is(value):
            out[name] = value
        elif isinstance(value, np.ndarray):
            packed[name] = {'ndarray': value.tolist()}
        else:
            packed[name] = {'json': value}
    if packed:
        try:
            out[JSON_PARAMS] = json.dumps(packed, allow_nan=True)
        except TypeError as e:
            raise TypeError(f'dump_parameters() returned a value that is neither a parameter nor JSON: {e}') from None
    return out


def unpack_params(params):
    """The parameters as the template dumped them (``pack_params`` undone)."""
    if not isinstance(params, dict) or JSON_PARAMS not in params:
        return params
    out = {k: v for k, v in params.items() if k != JSON_PARAMS}
    for name, entry in json.loads(params[JSON_PARAMS]).items():
        out[name] = np.array(entry['ndarray']) if 'ndarray' in entry else entry['json']
    return out


def _declared_knob_config(cls, declared):
    """Call ``get_knob_config`` as the template declared it: static, class or instance method (on
    an instance made without ``__init__``)."""
    if isinstance(declared, staticmethod):
        return declared.__func__()
    if isinstance(declared, classmethod):
        return declared.__func__(cls)
    return declared(object.__new__(cls))


def _adapt(cls) -> None:
    """Wrap what ``cls`` itself defines so that it keeps our contract (see the module docstring)."""
    own = cls.__dict__
    if 'get_knob_config' in own:
        declared = own['get_knob_config']

        def get_knob_config():
            config = _declared_knob_config(cls, declared)
            return {} if config is None else config
        cls.get_knob_config = staticmethod(get_knob_config)
    if 'dump_parameters' in own:
        dump = own['dump_parameters']

        @functools.wraps(dump)
        def dump_parameters(self):
            return pack_params(dump(self))
        cls.dump_parameters = dump_parameters
    if 'load_parameters' in own:
        load = own['load_parameters']

        @functools.wraps(load)
        def load_parameters(self, params):
            return load(self, unpack_params(params))
        cls.load_parameters = load_parameters
    if 'train' in own:
        train = own['train']

        @functools.wraps(train)
        def train_unpacked(self, dataset_path, *args, **kwargs):
            if args:
                args = (unpack_params(args[0]),) + args[1:]
            if kwargs.get('shared_params') is not None:
                kwargs['shared_params'] = unpack_params(kwargs['shared_params'])
            return train(self, dataset_path, *args, **kwargs)
        cls.train = train_unpacked


class BaseModel(_OurBaseModel):
    """SingaAuto's base model class (see the module docstring for what differs from ours)."""

    def __init__(self, **knobs):
        pass

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _adapt(cls)


class ImageClfBase(BaseModel):
    """Base of ``IMAGE_CLASSIFICATION`` templates."""


class TabularClfModel(BaseModel):
    """Base of ``TABULAR_CLASSIFICATION`` templates."""


class PosTagModel(BaseModel):
    """Base of ``POS_TAGGING`` templates."""


class ObjtDetModel(BaseModel):
    """Base of object detection templates."""


__all__ = ['BaseModel', 'Params', 'KnobConfig', 'Knobs', 'ImageClfBase', 'TabularClfModel', 'PosTagModel',
           'ObjtDetModel', 'pack_params', 'unpack_params', 'JSON_PARAMS']
