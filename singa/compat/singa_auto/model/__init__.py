"""SingaAuto's model SDK, ``singa_auto.model``, on top of ``singa.model``.

Every public name of SingaAuto's module is here; a template written for SingaAuto imports them
unchanged. What differs from ``singa.model`` (and why) is said in ``model.py`` (the base class),
``knob.py`` (knob arguments) and ``singa_auto.datasets`` (dataset helpers).
"""
from .knob import (ArchKnob, BaseKnob, CategoricalKnob, CategoricalValue, FixedKnob, FloatKnob, IntegerKnob,
                   KnobValue, PolicyKnob)
from .log import LoggerUtils
from .model import (BaseModel, ImageClfBase, KnobConfig, Knobs, ObjtDetModel, Params, PosTagModel,
                    TabularClfModel)
from .utils import (dataset, deserialize_knob_config, load_model_class, logger, parse_model_install_command,
                    serialize_knob_config, utils)

__all__ = ['ImageClfBase', 'BaseModel', 'Params', 'KnobConfig', 'Knobs', 'ObjtDetModel', 'PosTagModel',
           'TabularClfModel', 'LoggerUtils', 'utils', 'logger', 'dataset', 'load_model_class',
           'parse_model_install_command', 'serialize_knob_config', 'deserialize_knob_config', 'BaseKnob',
           'CategoricalKnob', 'IntegerKnob', 'FloatKnob', 'FixedKnob', 'ArchKnob', 'KnobValue', 'CategoricalValue',
           'PolicyKnob']
