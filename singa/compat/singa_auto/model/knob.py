"""SingaAuto's knob classes, with its looser arguments, as our knobs.

Each class here is a subclass of the ``singa.model`` knob of the same name, so a knob space built
from them is an ordinary space of ours (same JSON, same advisors). What SingaAuto accepted and
ours refuses is translated when the knob is built:

- ``KnobValue`` wrappers are unwrapped to their values; the wrappers themselves keep SingaAuto's
  identity semantics (two ``KnobValue(0)`` are different tokens, one reused object is the same
  token): an ``ArchKnob`` keeps them in ``knob_values``;
- ``is_exp`` may be any truthy or falsy value (LeNet5 and SqueezeNet pass ``0.01``);
- a log-scaled ``FloatKnob`` with a bound of 0 searches from 1e-12, as SingaAuto's optimiser did;
  a log-scaled ``IntegerKnob`` that reaches 0 or below is searched uniformly (SingaAuto never
  scaled integers);
- repeated categorical values are kept once.

``value_type`` is SingaAuto's: the Python type of a realised value.
"""
from typing import List, Union

from singa.model import knob as ours

POLICIES = ours.Policy.values()
LOG_FLOOR = 1e-12     # SingaAuto's optimiser replaced a log-scale bound of 0 with this


class KnobValue:
    """A categorical value (int, float, bool or str) with an identity of its own.

    Two ``KnobValue`` objects are the same token only when they are the same object, so an
    architecture search can tell "input from layer 0" in two places apart from a mere 0.
    """

    def __init__(self, value: Union[str, int, float, bool]):
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError('Only the following knob value data types are supported: '
                            '`int`, `float`, `bool` or `str`')
        self._value = value

    @property
    def value(self):
        return self._value

    @property
    def dtype(self) -> type:
        # SingaAuto checked int first, so True's dtype was int; kept.
        for kind in (int, float, bool, str):
            if isinstance(self._value, kind):
                return kind

    def __repr__(self):
        return f'KnobValue({self._value!r})'


CategoricalValue = Union[str, int, float, bool, KnobValue]


def plain(value):
    """The value a ``KnobValue`` wraps, or ``value`` itself."""
    return value.value if isinstance(value, KnobValue) else value


def _distinct(values) -> list:
    seen, out = set(), []
    for v in (plain(x) for x in values):
        if (type(v), v) not in seen:
            seen.add((type(v), v))
            out.append(v)
    return out


BaseKnob = ours.BaseKnob


def value_type(knob: ours.BaseKnob) -> type:
    """SingaAuto's ``value_type`` of a knob (ours too): the type of the values it realises."""
    if isinstance(knob, ours.FixedKnob):
        return type(knob.value)
    if isinstance(knob, ours.CategoricalKnob):
        return type(knob.values[0])
    for kind, realised in ((ours.IntegerKnob, int), (ours.FloatKnob, float), (ours.PolicyKnob, bool),
                           (ours.ArchKnob, list)):
        if isinstance(knob, kind):
            return realised
    raise TypeError(f'not a knob: {knob!r}')


class _ValueType:
    @property
    def value_type(self) -> type:
        return value_type(self)


class FixedKnob(_ValueType, ours.FixedKnob):
    def __init__(self, value: CategoricalValue):
        super().__init__(plain(value))


class CategoricalKnob(_ValueType, ours.CategoricalKnob):
    def __init__(self, values: List[CategoricalValue]):
        if not isinstance(values, (list, tuple)) or len(values) == 0:
            raise ValueError('Length of `values` should at least 1')
        super().__init__(_distinct(values))


class IntegerKnob(_ValueType, ours.IntegerKnob):
    def __init__(self, value_min: int, value_max: int, is_exp=False):
        super().__init__(value_min, value_max, bool(is_exp) and isinstance(value_min, int) and value_min > 0)


class FloatKnob(_ValueType, ours.FloatKnob):
    def __init__(self, value_min: float, value_max: float, is_exp=False):
        is_exp = bool(is_exp)
        if is_exp and value_min == 0:
            value_min = LOG_FLOOR
        if is_exp and value_max == 0:
            value_max = LOG_FLOOR
        super().__init__(value_min, value_max, is_exp)


class PolicyKnob(_ValueType, ours.PolicyKnob):
    def __init__(self, policy: str):
        if policy not in POLICIES:
            raise ValueError(f'Policy type must be one of {POLICIES}')
        super().__init__(policy)


class ArchKnob(_ValueType, ours.ArchKnob):
    """A list of positions, each choosing one candidate; ``knob_values`` holds the candidates as
    ``KnobValue`` objects, the same object wherever the template reused one."""

    def __init__(self, items: List[List[CategoricalValue]]):
        if not isinstance(items, (list, tuple)):
            raise ValueError('`items` should be a list of lists of candidate values')
        self.knob_values = [[x if isinstance(x, KnobValue) else KnobValue(x) for x in position]
                            for position in items]
        super().__init__([_distinct(position) for position in self.knob_values])

    def __len__(self):
        return len(self.items)


__all__ = ['BaseKnob', 'FixedKnob', 'CategoricalKnob', 'IntegerKnob', 'FloatKnob', 'PolicyKnob', 'ArchKnob',
           'KnobValue', 'CategoricalValue', 'POLICIES', 'value_type']
