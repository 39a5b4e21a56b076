"""The model SDK: what a model template imports.

``from singa.model import BaseModel, FloatKnob, CategoricalKnob, logger``
"""
from singa.model.knob import (ArchKnob, BaseKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob,
                              Policy, PolicyKnob, deserialize_knob_config, serialize_knob_config)
from singa.model.dataset import (image_queries_to_array, image_queries_to_rgb, load_corpus_dataset,
                                 load_detection_dataset, load_image_dataset, load_tabular_dataset,
                                 tabular_queries_to_array)
from singa.model.log import logger
from singa.model.model import BaseModel, Params

__all__ = ['BaseModel', 'Params', 'BaseKnob', 'FixedKnob', 'CategoricalKnob', 'IntegerKnob', 'FloatKnob',
           'PolicyKnob', 'ArchKnob', 'Policy', 'serialize_knob_config', 'deserialize_knob_config',
           'logger', 'load_image_dataset', 'load_tabular_dataset', 'load_corpus_dataset', 'load_detection_dataset',
           'tabular_queries_to_array', 'image_queries_to_array', 'image_queries_to_rgb']
