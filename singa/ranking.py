"""Which trial is "best": one rule for the API's ``type=best``, deployment and the advisor (issue 17).

Among the trials that meet the job's constraints, the highest validation score wins. Trials within
the job's *tie tolerance* of the best score tie with it: one validation example's share of the
score when the score counts examples right (1 / validation rows, images or tokens:
``BaseTask.score_resolution``, fixed when the job is created), else ``DEFAULT_TIE_TOLERANCE``
(floating-point noise). Among tied trials the earliest proposed (the lowest trial number of its
template's search, as the database numbers its trials: a lost trial's retry has a number of its own,
given when it re-ran) wins, then the earliest to finish.

Why the earliest proposed: on a small validation set most trials tie, and which of them
generalises was measured (``scripts/bench_ties.py``, README "Which trial is best"): a tie
proposed early was chosen with less of the search's feedback from the validation set, and it did
as well on held-out data as any tie-break that costs nothing (the flattest region of the search)
and better than the smallest or the fastest model, which did worse than arrival order; re-ranking
ties by k-fold cross-validation on the training data did not do clearly better, at 2 to 4 times the
search's training time. A smaller or faster model among good ones is what ``select`` and
constraints are for (``singa.objectives``).

``rank_rule(tolerance, constraints)`` says the rule in words (the API shows it); ``rank_key`` is it
for trials in memory (the advisor); ``singa.meta_store.trials`` says it in SQL.
"""
from typing import Optional, Sequence

from singa.objectives import Constraint

DEFAULT_TIE_TOLERANCE = 1e-9


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
    return (f'{among}the highest validation score; {within}, and among tied trials the earliest proposed '
            '(the lowest trial number of its template\'s search, chosen with the least feedback from the '
            'validation set) wins, then the earliest to finish')


def is_tie(score: Optional[float], best_score: Optional[float], tolerance: float = DEFAULT_TIE_TOLERANCE) -> bool:
    """Whether a trial with ``score`` ties with the best one."""
    return score is not None and best_score is not None and score >= best_score - tolerance


def rank_key(score: float, no: int, best_score: float, tolerance: float = DEFAULT_TIE_TOLERANCE) -> tuple:
    """A sort key putting the best trial first: ``score`` and ``no`` (trial number) are the trial's,
    ``best_score`` the best of the trials compared."""
    return -(best_score if is_tie(score, best_score, tolerance) else score), no
