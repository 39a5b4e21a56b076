"""Knobs validate their arguments, and the knob-config codec round-trips and rejects bad input."""
import json

import pytest

from singa.errors import InvalidKnobError
from singa.model import (ArchKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob,
                         deserialize_knob_config, serialize_knob_config)
from singa.model.knob import fix_knobs, is_active, ordered_knob_names


def full_config():
    return {
        'classifier': CategoricalKnob(['svc', 'tree']),
        'svc_c': FloatKnob(1e-3, 1e3, is_exp=True, condition={'classifier': ['svc']}),
        'svc_kernel': CategoricalKnob(['rbf', 'poly'], condition={'classifier': ['svc']}),
        'poly_degree': IntegerKnob(2, 5, condition={'svc_kernel': ['poly']}),
        'tree_depth': IntegerKnob(2, 64, is_exp=True, condition={'classifier': ['tree']}),
        'seed': FixedKnob(7),
        'early_stop': PolicyKnob('EARLY_STOP'),
        'arch': ArchKnob([[1, 2], ['a', 'b', 'c']]),
    }


@pytest.mark.parametrize('build, message', [
    (lambda: FixedKnob([1]), 'must be a str, int, float or bool'),
    (lambda: FixedKnob(float('nan')), 'finite'),
    (lambda: CategoricalKnob([]), 'non-empty list'),
    (lambda: CategoricalKnob('abc'), 'non-empty list'),
    (lambda: CategoricalKnob([1, 'a']), 'one type'),
    (lambda: CategoricalKnob([1, 1]), 'distinct'),
    (lambda: CategoricalKnob([None]), 'must be a str'),
    (lambda: IntegerKnob(5, 1), 'value_min <= value_max'),
    (lambda: IntegerKnob(1.5, 3), 'must be an int'),
    (lambda: IntegerKnob(True, 3), 'must be an int'),
    (lambda: IntegerKnob(0, 10, is_exp=True), 'value_min > 0'),
    (lambda: IntegerKnob(1, 10, is_exp='yes'), 'is_exp must be a bool'),
    (lambda: FloatKnob(0.0, 1.0, is_exp=True), 'value_min > 0'),
    (lambda: FloatKnob(float('-inf'), 1.0), 'finite'),
    (lambda: FloatKnob('0', 1.0), 'must be an int or float'),
    (lambda: PolicyKnob('FAST'), 'must be one of'),
    (lambda: ArchKnob([]), 'non-empty list of positions'),
    (lambda: ArchKnob([[1], []]), 'position 1'),
    (lambda: ArchKnob([[{}]]), 'position 0 value'),
    (lambda: FloatKnob(0, 1, condition={}), 'non-empty dict'),
    (lambda: FloatKnob(0, 1, condition={'a': []}), 'at least one allowed value'),
    (lambda: FloatKnob(0, 1, condition=['a']), 'non-empty dict'),
])
def test_bad_knob_arguments_are_rejected(build, message):
    with pytest.raises(InvalidKnobError, match=message):
        build()


def test_good_knobs_keep_their_values():
    assert FloatKnob(1, 2).value_min == 1.0 and isinstance(FloatKnob(1, 2).value_min, float)
    assert IntegerKnob(3, 3).enumerate_values() == [3]
    assert CategoricalKnob([1, 2.5]).values == [1, 2.5]
    assert PolicyKnob('SHARE_PARAMS').enumerate_values() == [False, True]
    assert IntegerKnob(0, 10**6).enumerate_values() is None


def test_codec_round_trips_every_knob_type_through_json():
    config = full_config()
    data = json.loads(json.dumps(serialize_knob_config(config)))
    assert data['version'] == 1 and [k['name'] for k in data['knobs']] == list(config)
    back = deserialize_knob_config(data)
    assert back == config and list(back) == list(config)
    assert back['svc_c'].is_exp is True and back['svc_c'].condition == {'classifier': ['svc']}


@pytest.mark.parametrize('mutate, message', [
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'MagicKnob'}), 'unknown type'),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'IntegerKnob', 'value_min': 5, 'value_max': 1}),
     'value_min <= value_max'),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'IntegerKnob', 'value_min': 1}), "knob 'x'"),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'FixedKnob', 'value': 1, 'bogus': 2}), 'unknown fields'),
    (lambda d: d['knobs'].append({'name': 'seed', 'type': 'FixedKnob', 'value': 1}), 'distinct'),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'FixedKnob', 'value': 1,
                                  'condition': {'nope': [1]}}), 'missing knob'),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'FixedKnob', 'value': 1,
                                  'condition': {'classifier': ['knn']}}), 'is not a value'),
    (lambda d: d['knobs'].append({'name': 'x', 'type': 'FixedKnob', 'value': 1,
                                  'condition': {'svc_c': [1.0]}}), 'cannot be listed'),
    (lambda d: d.update(version=99), 'version'),
    (lambda d: d.pop('knobs'), 'knobs'),
    (lambda d: d['knobs'].append('x'), 'object'),
])
def test_codec_rejects_malformed_input(mutate, message):
    data = serialize_knob_config(full_config())
    mutate(data)
    with pytest.raises(InvalidKnobError, match=message):
        deserialize_knob_config(data)


def test_condition_cycles_are_rejected():
    config = {'a': CategoricalKnob([1, 2], condition={'b': ['x']}),
              'b': CategoricalKnob(['x', 'y'], condition={'a': [1]})}
    with pytest.raises(InvalidKnobError, match='cycle'):
        serialize_knob_config(config)
    with pytest.raises(InvalidKnobError, match='itself'):
        serialize_knob_config({'a': CategoricalKnob([1, 2], condition={'a': [1]})})


def test_parents_come_first_and_activity_follows_conditions():
    config = {'degree': IntegerKnob(2, 5, condition={'kernel': ['poly']}),
              'kernel': CategoricalKnob(['rbf', 'poly'])}
    assert ordered_knob_names(config) == ['kernel', 'degree']
    assert is_active(config['degree'], {'kernel': 'poly'})
    assert not is_active(config['degree'], {'kernel': 'rbf'})
    assert not is_active(config['degree'], {'kernel': None})


def test_fix_knobs_validates_overrides():
    fixed = fix_knobs(full_config(), {'classifier': 'tree', 'tree_depth': 8})
    assert fixed['classifier'] == FixedKnob('tree') and fixed['tree_depth'].condition == {'classifier': ['tree']}
    with pytest.raises(InvalidKnobError, match='not one of'):
        fix_knobs(full_config(), {'classifier': 'knn'})
    with pytest.raises(InvalidKnobError, match='unknown knob'):
        fix_knobs(full_config(), {'nope': 1})
    with pytest.raises(InvalidKnobError, match='integer in'):
        fix_knobs(full_config(), {'tree_depth': 1000})
    with pytest.raises(InvalidKnobError, match='true or false'):
        fix_knobs(full_config(), {'early_stop': 1})
