"""What a train job tunes for: named objectives with directions, constraints, the Pareto front,
and the rule that picks one trial to deploy from it (issue 17).

A trial's *values* are every figure known of it (``trial_values``): what ``evaluate()`` returned
(one number is the single metric ``score``; a dict names several, and its ``score`` entry, or
else its first, is the trial's score), and what the platform measured itself: ``params_bytes``
(the size of its saved parameters) and ``predict_latency_ms`` (the median time its trained model
took to answer one query of the validation set, after a warm-up). An objective names one of them
and whether it is maximized or minimized; a constraint bounds one (``min`` and/or ``max``); a
trial without the value a constraint names does not meet it.

Trial A dominates trial B when A is at least as good on every objective and better on one; the
Pareto front is the feasible trials (those meeting every constraint) that no other feasible trial
dominates.
"""
import math
import re
from dataclasses import asdict, dataclass
from typing import Iterable, Optional, Sequence

from singa.constants import StrEnum
from singa.errors import ConflictError, InvalidModelError, InvalidRequestError, SingaError

SCORE = 'score'
PARAMS_BYTES = 'params_bytes'
PREDICT_LATENCY_MS = 'predict_latency_ms'
MEASURED = (PARAMS_BYTES, PREDICT_LATENCY_MS)      # what the platform measures of every completed trial
METRIC_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]{0,63}$')
METRIC_NAME_HINT = '1 to 64 letters, digits, "_", "." or "-", starting with a letter or "_"'
MAX_METRICS = 32           # named metrics one evaluate() may return
MAX_OBJECTIVES = 4


class Direction(StrEnum):
    MAXIMIZE = 'maximize'
    MINIMIZE = 'minimize'


def check_metric_name(name, field: str) -> str:
    if not isinstance(name, str) or not METRIC_NAME.match(name):
        raise InvalidRequestError(f'{field} must be a metric name of {METRIC_NAME_HINT}; got {name!r}', field=field)
    return name


@dataclass(frozen=True)
class Objective:
    name: str
    direction: Direction = Direction.MAXIMIZE

    def __post_init__(self):
        check_metric_name(self.name, 'objectives')
        object.__setattr__(self, 'direction', Direction.parse(self.direction, 'objectives'))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == Direction.MAXIMIZE else a < b

    def to_dict(self) -> dict:
        return {'name': self.name, 'direction': self.direction.value}


@dataclass(frozen=True)
class Constraint:
    """``min <= value <= max`` (either bound or both may be absent: the value must be there). Bounds
    that no value can meet are a ``ConflictError``."""
    name: str
    min: Optional[float] = None
    max: Optional[float] = None

    def __post_init__(self):
        check_metric_name(self.name, 'constraints')
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConflictError(f'constraint on {self.name!r}: min {self.min} is above max {self.max}, so no trial '
                                'could meet it', field='constraints')

    def violation(self, values: dict) -> float:
        """How far ``values`` is outside the bounds (0: within; 1 when the value is missing)."""
        value = values.get(self.name)
        if value is None:
            return 1.0
        over = value - self.max if self.max is not None else -math.inf
        under = self.min - value if self.min is not None else -math.inf
        return max(0.0, over, under)

    def describe(self) -> str:
        if self.min is None and self.max is None:
            return f'{self.name} measured'
        if self.min is not None and self.max is not None:
            return f'{self.min:g} <= {self.name} <= {self.max:g}'
        return f'{self.name} <= {self.max:g}' if self.max is not None else f'{self.name} >= {self.min:g}'

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


DEFAULT_OBJECTIVES = (Objective(SCORE, Direction.MAXIMIZE),)


def parse_objectives(raw: Optional[Sequence[dict]]) -> tuple:
    """The objectives of a job (``[{name, direction}]``; none: ``score`` maximized)."""
    if not raw:
        return DEFAULT_OBJECTIVES
    objectives = tuple(Objective(o['name'], o.get('direction', Direction.MAXIMIZE)) for o in raw)
    names = [o.name for o in objectives]
    if len(set(names)) != len(names):
        raise ConflictError(f'objectives name a metric twice: {", ".join(names)}', field='objectives')
    if len(objectives) > MAX_OBJECTIVES:
        raise InvalidRequestError(f'at most {MAX_OBJECTIVES} objectives; got {len(objectives)}', field='objectives')
    return objectives


def parse_constraints(raw: Optional[Sequence[dict]]) -> tuple:
    return tuple(Constraint(c['name'], c.get('min'), c.get('max')) for c in raw or ())


def evaluation_metrics(value) -> tuple[float, dict]:
    """What ``evaluate()`` returned as ``(score, {name: value})``: a number is the score alone; a
    dict of finite numbers names several metrics, and its ``score`` (or else its first) is the
    score. ``InvalidModelError`` saying why for anything else."""
    if isinstance(value, dict):
        if not value or len(value) > MAX_METRICS:
            raise InvalidModelError(f'evaluate() must return 1 to {MAX_METRICS} named metrics; got {len(value)}')
        metrics = {}
        for name, number in value.items():
            if not isinstance(name, str) or not METRIC_NAME.match(name) or name in MEASURED:
                raise InvalidModelError(f'evaluate() returned a metric named {name!r}; a name is {METRIC_NAME_HINT}, '
                                 f'and not one the platform measures ({", ".join(MEASURED)})')
            metrics[name] = _finite(number, f'metric {name!r}')
        return metrics.get(SCORE, next(iter(metrics.values()))), metrics
    return _finite(value, 'the score'), {}


def _finite(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidModelError(f'evaluate() must return a number or a dict of named numbers; {what} is a '
                                f'{type(value).__name__}') from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidModelError(f'evaluate() returned {value!r} for {what}; it must be a finite number')
    return number


def clean_metrics(raw) -> dict:
    """``raw`` (untrusted: from a worker) as ``{name: finite float}``, dropping what is not."""
    if not isinstance(raw, dict):
        return {}
    out = {}
    for name, value in list(raw.items())[:MAX_METRICS + len(MEASURED)]:
        if isinstance(name, str) and METRIC_NAME.match(name) and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


def trial_values(score: Optional[float], metrics: Optional[dict], params_bytes: Optional[int]) -> dict:
    """Every known figure of a trial by name (see the module's docstring)."""
    values = dict(metrics or {})
    if score is not None:
        values.setdefault(SCORE, float(score))
    if params_bytes is not None:
        values[PARAMS_BYTES] = float(params_bytes)
    return values


def objective_vector(values: dict, objectives: Sequence[Objective]) -> Optional[list]:
    """The objectives' values in order, or None when one is missing."""
    vector = [values.get(o.name) for o in objectives]
    return None if any(v is None for v in vector) else vector


def feasible(values: dict, constraints: Iterable[Constraint]) -> bool:
    return all(c.violation(values) == 0 for c in constraints)


def dominates(a: Sequence[float], b: Sequence[float], objectives: Sequence[Objective]) -> bool:
    """Whether vector ``a`` is at least as good as ``b`` on every objective and better on one."""
    return all(not o.better(y, x) for o, x, y in zip(objectives, a, b)) and \
        any(o.better(x, y) for o, x, y in zip(objectives, a, b))


def pareto_front(values: Sequence[dict], objectives: Sequence[Objective],
                 constraints: Sequence[Constraint] = ()) -> list[int]:
    """Indices of the non-dominated feasible entries of ``values`` (each a trial's values), in
    order. Entries missing an objective's value are left out; equal vectors are all kept."""
    points = [(i, objective_vector(v, objectives)) for i, v in enumerate(values) if feasible(v, constraints)]
    points = [(i, vector) for i, vector in points if vector is not None]
    return [i for i, vector in points if not any(dominates(other, vector, objectives) for _, other in points)]


@dataclass(frozen=True)
class SelectRule:
    """Pick one trial: the best by ``objective`` among those meeting every constraint of ``where``."""
    objective: Objective
    where: tuple = ()

    @classmethod
    def parse(cls, raw: dict) -> 'SelectRule':
        """``{"objective": name, "direction": "maximize" (default) or "minimize", "where": [{name,
        min, max}]}``: a malformed rule is a 400, bounds nothing can meet a 409, naming ``select``."""
        try:
            return cls(Objective(raw.get('objective'), raw.get('direction') or Direction.MAXIMIZE),
                       parse_constraints(raw.get('where')))
        except SingaError as e:
            raise type(e)(e.message, field='select') from None

    def pick(self, values: Sequence[dict]) -> Optional[int]:
        """The index of the best entry that meets ``where``, or None. Entries equal on the objective
        are told apart by the bounded figures, each toward the side its one bound guards (under a
        ``max``: the smaller; over a ``min``: the larger): the most accurate trial under a latency
        bound is, among equally accurate ones, the fastest. Then the order of ``values``."""
        candidates = [i for i, v in enumerate(values)
                      if v.get(self.objective.name) is not None and feasible(v, self.where)]
        if not candidates:
            return None
        sign = -1.0 if self.objective.direction == Direction.MAXIMIZE else 1.0
        return min(candidates, key=lambda i: (sign * values[i][self.objective.name],
                                              *(self._tie_break(c, values[i]) for c in self.where), i))

    @staticmethod
    def _tie_break(constraint: Constraint, values: dict) -> float:
        """How ``values`` ranks on ``constraint``'s figure among ties (smaller first)."""
        if (constraint.max is None) == (constraint.min is None):
            return 0.0
        return values[constraint.name] if constraint.max is not None else -values[constraint.name]

    def to_dict(self) -> dict:
        """The rule as ``parse`` takes it, every field given."""
        return {'objective': self.objective.name, 'direction': self.objective.direction.value,
                'where': [c.to_dict() for c in self.where]}
