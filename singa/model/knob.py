"""Knobs: the typed hyperparameter space a model template declares in ``get_knob_config()``.

Each knob validates its arguments when built (``InvalidKnobError`` with a clear message) and has
one JSON form; ``serialize_knob_config`` / ``deserialize_knob_config`` are the only codec, so the
space travels as data (stored in the database, read by the advisor, which never imports model code).

Conditional knobs
-----------------
Every knob takes ``condition={parent_name: [allowed values], ...}``: the knob exists only while
every named parent is itself active and takes one of the listed values. For example::

    {
        'classifier': CategoricalKnob(['svc', 'tree']),
        'svc_c': FloatKnob(1e-3, 1e3, is_exp=True, condition={'classifier': ['svc']}),
        'tree_depth': IntegerKnob(2, 16, condition={'classifier': ['tree']}),
    }

``__init__(**knobs)`` of the model always receives **every** knob name; an inactive knob's value
is ``None``. Parents must be knobs whose values can be enumerated (Fixed, Categorical, Integer or
Policy); conditions may chain but not form cycles.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, Optional

from singa.constants import StrEnum
from singa.errors import InvalidKnobError

FORMAT_VERSION = 1
PRIMITIVE_TYPES = (str, int, float, bool)


class Policy(StrEnum):
    """Training policies a template may support; the advisor sets each to True or False per trial."""
    SHARE_PARAMS = 'SHARE_PARAMS'   # train() gets shared_params from an earlier trial (warm start)
    EARLY_STOP = 'EARLY_STOP'       # train briefly (search phase); False = full training
    SKIP_TRAIN = 'SKIP_TRAIN'       # do not train; evaluate the shared params as they are
    QUICK_EVAL = 'QUICK_EVAL'       # evaluate on a subset of the validation set
    DOWNSCALE = 'DOWNSCALE'         # use a smaller version of the model


def _check_primitive(value, what: str):
    if not isinstance(value, PRIMITIVE_TYPES):
        raise InvalidKnobError(f'{what} must be a str, int, float or bool; got {type(value).__name__}')
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidKnobError(f'{what} must be finite; got {value!r}')


def _check_condition(condition) -> Optional[dict]:
    if condition is None:
        return None
    if not isinstance(condition, dict) or not condition:
        raise InvalidKnobError('condition must be a non-empty dict {parent knob name: [allowed values]}')
    checked = {}
    for parent, values in condition.items():
        if not isinstance(parent, str) or not parent:
            raise InvalidKnobError(f'condition keys must be knob names; got {parent!r}')
        if not isinstance(values, (list, tuple)) or not values:
            raise InvalidKnobError(f'condition on {parent!r} must list at least one allowed value')
        for v in values:
            _check_primitive(v, f'allowed value of condition on {parent!r}')
        checked[parent] = list(values)
    return checked


def _same_value(a, b) -> bool:
    """Equality that keeps True apart from 1 (``isinstance(True, int)`` is True in Python)."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


class BaseKnob(ABC):
    """One hyperparameter. Subclasses validate in ``__init__`` and define their JSON fields."""

    def __init__(self, condition: Optional[dict] = None):
        self.condition = _check_condition(condition)

    @property
    def kind(self) -> str:
        return type(self).__name__

    @abstractmethod
    def _fields(self) -> dict:
        """The knob's own JSON fields (besides ``type`` and ``condition``)."""

    def to_json(self) -> dict:
        data = {'type': self.kind, **self._fields()}
        if self.condition is not None:
            data['condition'] = {k: list(v) for k, v in self.condition.items()}
        return data

    def enumerate_values(self) -> Optional[list]:
        """Every value the knob can take, or ``None`` when there are too many to list."""
        return None

    @abstractmethod
    def validate_value(self, value) -> Any:
        """Return ``value`` if this knob could take it (e.g. a user override), else raise."""

    def __eq__(self, other):
        return isinstance(other, BaseKnob) and self.to_json() == other.to_json()

    def __repr__(self):
        fields = ', '.join(f'{k}={v!r}' for k, v in self.to_json().items() if k != 'type')
        return f'{self.kind}({fields})'


class FixedKnob(BaseKnob):
    """A knob with a single value (str, int, float or bool)."""

    def __init__(self, value, condition: Optional[dict] = None):
        super().__init__(condition)
        _check_primitive(value, 'FixedKnob value')
        self.value = value

    def _fields(self):
        return {'value': self.value}

    def enumerate_values(self):
        return [self.value]

    def validate_value(self, value):
        if not _same_value(value, self.value):
            raise InvalidKnobError(f'this FixedKnob only takes {self.value!r}; got {value!r}')
        return value


class CategoricalKnob(BaseKnob):
    """One of a non-empty list of distinct values of one type (str, int, float or bool)."""

    def __init__(self, values, condition: Optional[dict] = None):
        super().__init__(condition)
        if not isinstance(values, (list, tuple)) or not values:
            raise InvalidKnobError('CategoricalKnob needs a non-empty list of values')
        for v in values:
            _check_primitive(v, 'CategoricalKnob value')
        types = {type(v) for v in values}
        if len(types) > 1 and types != {int, float}:
            raise InvalidKnobError('CategoricalKnob values must all have one type; got '
                                   + ', '.join(sorted(t.__name__ for t in types)))
        if len({(type(v), v) for v in values}) != len(values):
            raise InvalidKnobError(f'CategoricalKnob values must be distinct; got {list(values)!r}')
        self.values = list(values)

    def _fields(self):
        return {'values': list(self.values)}

    def enumerate_values(self):
        return list(self.values)

    def validate_value(self, value):
        if not any(_same_value(value, v) for v in self.values):
            raise InvalidKnobError(f'value {value!r} is not one of {self.values!r}')
        return value


def _check_bounds(kind: str, value_min, value_max, is_exp, number_types):
    for name, v in (('value_min', value_min), ('value_max', value_max)):
        if isinstance(v, bool) or not isinstance(v, number_types):
            allowed = ' or '.join(t.__name__ for t in number_types)
            raise InvalidKnobError(f'{kind} {name} must be an {allowed}; got {v!r}')
        if not math.isfinite(v):
            raise InvalidKnobError(f'{kind} {name} must be finite; got {v!r}')
    if value_min > value_max:
        raise InvalidKnobError(f'{kind} needs value_min <= value_max; got {value_min} > {value_max}')
    if not isinstance(is_exp, bool):
        raise InvalidKnobError(f'{kind} is_exp must be a bool; got {is_exp!r}')
    if is_exp and value_min <= 0:
        raise InvalidKnobError(f'{kind} with is_exp=True (log scale) needs value_min > 0; got {value_min}')


class IntegerKnob(BaseKnob):
    """An integer in ``[value_min, value_max]`` (inclusive); ``is_exp=True`` samples on a log scale."""

    MAX_ENUMERATED = 1000

    def __init__(self, value_min: int, value_max: int, is_exp: bool = False,
                 condition: Optional[dict] = None):
        super().__init__(condition)
        _check_bounds('IntegerKnob', value_min, value_max, is_exp, (int,))
        self.value_min, self.value_max, self.is_exp = value_min, value_max, is_exp

    def _fields(self):
        return {'value_min': self.value_min, 'value_max': self.value_max, 'is_exp': self.is_exp}

    def enumerate_values(self):
        if self.value_max - self.value_min + 1 > self.MAX_ENUMERATED:
            return None
        return list(range(self.value_min, self.value_max + 1))

    def validate_value(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or not (
                self.value_min <= value <= self.value_max):
            raise InvalidKnobError(
                f'value {value!r} is not an integer in [{self.value_min}, {self.value_max}]')
        return value


class FloatKnob(BaseKnob):
    """A float in ``[value_min, value_max]``; ``is_exp=True`` samples on a log scale."""

    def __init__(self, value_min: float, value_max: float, is_exp: bool = False,
                 condition: Optional[dict] = None):
        super().__init__(condition)
        _check_bounds('FloatKnob', value_min, value_max, is_exp, (int, float))
        self.value_min, self.value_max, self.is_exp = float(value_min), float(value_max), is_exp

    def _fields(self):
        return {'value_min': self.value_min, 'value_max': self.value_max, 'is_exp': self.is_exp}

    def enumerate_values(self):
        return [self.value_min] if self.value_min == self.value_max else None

    def validate_value(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                self.value_min <= value <= self.value_max):
            raise InvalidKnobError(
                f'value {value!r} is not a number in [{self.value_min}, {self.value_max}]')
        return float(value)


class PolicyKnob(BaseKnob):
    """Declares that the template supports a training policy; the advisor sets it (True/False)."""

    def __init__(self, policy: str, condition: Optional[dict] = None):
        super().__init__(condition)
        if policy not in Policy.values():
            raise InvalidKnobError(f'PolicyKnob policy must be one of {", ".join(Policy.values())}; '
                                   f'got {policy!r}')
        self.policy = str(policy)

    def _fields(self):
        return {'policy': self.policy}

    def enumerate_values(self):
        return [False, True]

    def validate_value(self, value):
        if not isinstance(value, bool):
            raise InvalidKnobError(f'a PolicyKnob value must be true or false; got {value!r}')
        return value


class ArchKnob(BaseKnob):
    """An architecture: a list of positions, each choosing one of its candidate values.

    ``items`` is a list of non-empty lists of primitive values; the realised value is a list with
    one choice per position.
    """

    def __init__(self, items, condition: Optional[dict] = None):
        super().__init__(condition)
        if not isinstance(items, (list, tuple)) or not items:
            raise InvalidKnobError('ArchKnob needs a non-empty list of positions')
        checked = []
        for i, choices in enumerate(items):
            if not isinstance(choices, (list, tuple)) or not choices:
                raise InvalidKnobError(f'ArchKnob position {i} must be a non-empty list of values')
            for v in choices:
                _check_primitive(v, f'ArchKnob position {i} value')
            checked.append(list(choices))
        self.items = checked

    def _fields(self):
        return {'items': [list(c) for c in self.items]}

    def validate_value(self, value):
        if not isinstance(value, (list, tuple)) or len(value) != len(self.items):
            raise InvalidKnobError(f'an ArchKnob value must be a list of {len(self.items)} choices')
        for i, (v, choices) in enumerate(zip(value, self.items)):
            if not any(_same_value(v, c) for c in choices):
                raise InvalidKnobError(f'ArchKnob position {i}: {v!r} is not one of {choices!r}')
        return list(value)


KNOB_TYPES = {cls.__name__: cls for cls in
              (FixedKnob, CategoricalKnob, IntegerKnob, FloatKnob, PolicyKnob, ArchKnob)}
_ARGS = {'FixedKnob': ('value',), 'CategoricalKnob': ('values',),
         'IntegerKnob': ('value_min', 'value_max', 'is_exp'),
         'FloatKnob': ('value_min', 'value_max', 'is_exp'), 'PolicyKnob': ('policy',),
         'ArchKnob': ('items',)}


def validate_knob_config(config) -> dict:
    """Check a whole knob space: names, knob objects, and that conditions name enumerable
    parents, list values those parents can take, and form no cycle. Returns ``config``."""
    if not isinstance(config, dict):
        raise InvalidKnobError(f'a knob config must be a dict of name -> knob; got {type(config).__name__}')
    for name, knob in config.items():
        if not isinstance(name, str) or not name:
            raise InvalidKnobError(f'knob names must be non-empty strings; got {name!r}')
        if not isinstance(knob, BaseKnob):
            raise InvalidKnobError(f'knob {name!r} is not a knob object; got {type(knob).__name__}')
    for name, knob in config.items():
        for parent, values in (knob.condition or {}).items():
            if parent == name:
                raise InvalidKnobError(f'knob {name!r} has a condition on itself', field=name)
            if parent not in config:
                raise InvalidKnobError(f'knob {name!r} has a condition on missing knob {parent!r}',
                                       field=name)
            allowed = config[parent].enumerate_values()
            if allowed is None:
                raise InvalidKnobError(f'knob {name!r} has a condition on {parent!r}, a '
                                       f'{config[parent].kind} whose values cannot be listed', field=name)
            for v in values:
                # A FixedKnob parent (e.g. a user override) may leave a branch that is never active.
                if not isinstance(config[parent], FixedKnob) and not any(_same_value(v, a) for a in allowed):
                    raise InvalidKnobError(f'knob {name!r}: condition value {v!r} is not a value '
                                           f'{parent!r} can take', field=name)
    ordered_knob_names(config)
    return config


def ordered_knob_names(config: dict) -> list:
    """Knob names with every parent before its dependents (stable: declaration order otherwise).
    Raises ``InvalidKnobError`` on a cycle."""
    order, state = [], {}

    def visit(name, path):
        if state.get(name) == 'done':
            return
        if state.get(name) == 'active':
            raise InvalidKnobError('knob conditions form a cycle: ' + ' -> '.join(path + [name]))
        state[name] = 'active'
        for parent in (config[name].condition or {}):
            if parent in config:
                visit(parent, path + [name])
        state[name] = 'done'
        order.append(name)

    for name in config:
        visit(name, [])
    return order


def is_active(knob: BaseKnob, values: dict) -> bool:
    """Whether ``knob`` is active given the already-chosen ``values`` (inactive parents are None)."""
    for parent, allowed in (knob.condition or {}).items():
        v = values.get(parent)
        if v is None or not any(_same_value(v, a) for a in allowed):
            return False
    return True


def serialize_knob_config(config: dict) -> dict:
    """The JSON form of a knob space: ``{"version": 1, "knobs": [{"name", "type", ...}, ...]}``.

    Knobs are a list so that declaration order survives stores that reorder object keys.
    """
    validate_knob_config(config)
    return {'version': FORMAT_VERSION,
            'knobs': [{'name': name, **knob.to_json()} for name, knob in config.items()]}


def deserialize_knob_config(data) -> dict:
    """Rebuild ``{name: knob}`` from ``serialize_knob_config`` output, validating everything."""
    if not isinstance(data, dict) or not isinstance(data.get('knobs'), list):
        raise InvalidKnobError('a serialized knob config is an object with a "knobs" list')
    if data.get('version') != FORMAT_VERSION:
        raise InvalidKnobError(f'unsupported knob config version {data.get("version")!r}')
    config = {}
    for entry in data['knobs']:
        if not isinstance(entry, dict):
            raise InvalidKnobError('each serialized knob is an object')
        name, kind = entry.get('name'), entry.get('type')
        if kind not in KNOB_TYPES:
            raise InvalidKnobError(f'knob {name!r} has unknown type {kind!r}; valid types: '
                                   + ', '.join(KNOB_TYPES), field=name)
        if not isinstance(name, str) or not name or name in config:
            raise InvalidKnobError(f'knob names must be distinct non-empty strings; got {name!r}')
        extra = set(entry) - {'name', 'type', 'condition', *_ARGS[kind]}
        if extra:
            raise InvalidKnobError(f'knob {name!r} has unknown fields: {", ".join(sorted(extra))}', field=name)
        args = {a: entry[a] for a in _ARGS[kind] if a in entry}
        try:
            config[name] = KNOB_TYPES[kind](**args, condition=entry.get('condition'))
        except TypeError as e:
            raise InvalidKnobError(f'knob {name!r}: {e}', field=name) from None
        except InvalidKnobError as e:
            raise InvalidKnobError(f'knob {name!r}: {e.message}', field=name) from None
    return validate_knob_config(config)


def policies_of(config: dict) -> set:
    """The policies a knob space declares."""
    return {k.policy for k in config.values() if isinstance(k, PolicyKnob)}


def fix_knobs(config: dict, overrides: dict) -> dict:
    """A copy of ``config`` where each overridden knob becomes a ``FixedKnob`` (validated)."""
    fixed = dict(config)
    for name, value in overrides.items():
        if name not in config:
            raise InvalidKnobError(f'cannot fix unknown knob {name!r}; knobs: {", ".join(config)}',
                                   field=name)
        value = config[name].validate_value(value)
        if isinstance(value, list):
            raise InvalidKnobError(f'knob {name!r}: an ArchKnob cannot be fixed', field=name)
        fixed[name] = FixedKnob(value, condition=config[name].condition)
    return validate_knob_config(fixed)


def untuned_values(config: dict, given: dict) -> dict:
    """One value per knob with no tuning (a template deployed from a checkpoint): ``given`` values,
    each validated, FixedKnob values, False for policy knobs, None for knobs a condition leaves
    inactive. ``InvalidKnobError`` for an unknown name, a value the knob cannot take, or knobs left
    with no value (those a tuner would search)."""
    unknown = sorted(set(given) - set(config))
    if unknown:
        raise InvalidKnobError(f'unknown knob(s) {", ".join(unknown)}; the template\'s knobs: '
                               f'{", ".join(config) or "none"}', field=unknown[0])
    values, missing = {}, []
    for name in ordered_knob_names(config):
        knob = config[name]
        if not is_active(knob, values):
            values[name] = None
        elif name in given:
            try:
                values[name] = knob.validate_value(given[name])
            except (InvalidKnobError, TypeError, ValueError) as e:
                raise InvalidKnobError(f'knob {name!r}: {getattr(e, "message", e)}', field=name) from None
        elif isinstance(knob, FixedKnob):
            values[name] = knob.value
        elif isinstance(knob, PolicyKnob):
            values[name] = False
        else:
            missing.append(name)
    if missing:
        raise InvalidKnobError(f'the template has knobs that are not fixed: give the value of each of '
                               f'{", ".join(missing)} (the trial\'s knobs, for parameters a trial trained)',
                               field=missing[0])
    return values


__all__ = ['BaseKnob', 'FixedKnob', 'CategoricalKnob', 'IntegerKnob', 'FloatKnob', 'PolicyKnob',
           'ArchKnob', 'Policy', 'serialize_knob_config', 'deserialize_knob_config',
           'validate_knob_config', 'ordered_knob_names', 'is_active', 'policies_of', 'fix_knobs', 'untuned_values']
