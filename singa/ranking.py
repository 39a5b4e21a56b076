"""Which trial is "best": one rule for the API's ``type=best``, deployment and the advisor (issue 17).

The highest validation score wins. Trials within the job's *tie tolerance* of the best score tie
with it: one validation example's share of the score when the score counts examples right (1 /
validation rows, images or tokens: ``BaseTask.score_resolution``, fixed when the job is created),
else ``DEFAULT_TIE_TOLERANCE``. On a small validation set most trials reach the same score, and
which of them is best is then decided by ``TIE_BREAKS``, measured to generalise better than
arrival order (``scripts/bench_ties.py``), and only then by which finished first.

``rank_rule(tolerance, constraints)`` says the rule in words (the API shows it); ``rank_key`` is it
for trials in memory (the advisor); ``singa.meta_store.trials`` says it in SQL from the same
``TIE_BREAKS``.
"""
from typing import Optional, Sequence

from singa.objectives import Constraint, Direction

DEFAULT_TIE_TOLERANCE = 1e-9

# (value name as in ``singa.objectives.trial_values``, direction, how the rule says it), in order.
TIE_BREAKS = (
    ('predict_latency_ms', Direction.MINIMIZE, 'the one that predicts fastest (predict_latency_ms)'),
    ('params_bytes', Direction.MINIMIZE, 'then the one with the smallest saved parameters (params_bytes)'),
)


def tie_tolerance(resolution: Optional[float]) -> float:
    """A job's tie tolerance from its validation set's resolution (None: the score has no step of one
    example): the resolution plus ``DEFAULT_TIE_TOLERANCE``, so that a score one example below the
    best ties with it whatever floating-point rounding made of either."""
    return DEFAULT_TIE_TOLERANCE + (0.0 if resolution is None else float(resolution))


def rank_rule(tolerance: float = DEFAULT_TIE_TOLERANCE, constraints: Sequence[Constraint] = ()) -> str:
    """The rule in words, with a job's tie tolerance and constraints."""
    if tolerance > 2 * DEFAULT_TIE_TOLERANCE:
        within = f'trials within {tolerance:.6g} of the best score (one example of the validation set) tie with it'
    else:
        within = f'trials within {DEFAULT_TIE_TOLERANCE:g} of the best score tie with it'
    among = f'among the trials meeting {" and ".join(c.describe() for c in constraints)}, ' if constraints else ''
    breaks = ', '.join(text for _, _, text in TIE_BREAKS)
    return (f'{among}the highest validation score; {within}, and among tied trials {breaks}, then the earliest '
            'to finish; a trial missing a figure comes after those that have it')



def is_tie(score: Optional[float], best_score: Optional[float], tolerance: float = DEFAULT_TIE_TOLERANCE) -> bool:
    """Whether a trial with ``score`` ties with the best one."""
    return score is not None and best_score is not None and score >= best_score - tolerance


def rank_key(score: float, values: dict, order: int, best_score: float,
             tolerance: float = DEFAULT_TIE_TOLERANCE) -> tuple:
    """A sort key putting the best trial first: ``score`` and ``values`` (by name) are the trial's,
    ``order`` its place in finishing order, ``best_score`` the best of the trials compared."""
    tied = is_tie(score, best_score, tolerance)
    key = [-(best_score if tied else score)]
    for name, direction, _ in TIE_BREAKS:
        value = values.get(name)
        key += [value is None, 0.0 if value is None else (value if direction == Direction.MINIMIZE else -value)]
    return (*key, order)
