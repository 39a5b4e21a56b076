"""Combining the predictions of several models for one query: the task's rule (``singa.tasks``).

``WEIGHTED_MEAN`` weighs each model by its validation score (negative scores count as 0; when
every weight is 0 the models count equally); ``MEAN`` and ``VOTE`` force a mean or a vote where
the task has both; ``AUTO`` lets the task pick from the shape of the answers. Each task's module
says what its rule does (probabilities averaged for classification, numbers for regression, a
vote per token for POS tagging, box fusion for detection).
"""
import math
from typing import Optional, Sequence

from singa.constants import EnsembleMethod
from singa.tasks import get_task

MISSING = object()


def ensemble_batch(per_model: Sequence[Sequence], weights: Sequence[float], method: str, task: str) -> list:
    """``per_model[m][q]`` is model m's answer for query q (``MISSING`` when it gave none).

    Returns one answer per query, ``None`` where no model answered.
    """
    if not per_model:
        return []
    n_queries = len(per_model[0])
    out = []
    for q in range(n_queries):
        answers = [(per_model[m][q], weights[m]) for m in range(len(per_model)) if per_model[m][q] is not MISSING]
        out.append(ensemble_one(answers, method, task) if answers else None)
    return out


def ensemble_one(answers: list[tuple], method: str, task: str):
    """Combine ``[(answer, weight), ...]`` (at least one) for one query."""
    if len(answers) == 1:
        return answers[0][0]
    method = EnsembleMethod(method) if not isinstance(method, EnsembleMethod) else method
    values = [a for a, _ in answers]
    weights = _weights([w for _, w in answers]) if method == EnsembleMethod.WEIGHTED_MEAN else [1.0] * len(answers)
    return get_task(task).ensemble(values, weights, method)


def _weights(raw: list) -> list[float]:
    clipped = [max(0.0, float(w)) if w is not None and math.isfinite(float(w)) else 0.0 for w in raw]
    return clipped if sum(clipped) > 0 else [1.0] * len(clipped)


def pick_method(method: Optional[str]) -> EnsembleMethod:
    return EnsembleMethod.parse(method or EnsembleMethod.AUTO.value, 'ensemble')
