"""Combining the predictions of several models for one query.

- classification, models answering probability vectors: their mean (shorter vectors are padded
  with zeros, so a model that never saw the last classes still counts);
- classification, models answering labels (anything else): a vote, ties broken by total weight
  and then by model order;
- regression (numbers, or equally shaped lists of numbers): their mean.

``WEIGHTED_MEAN`` weighs each model by its validation score (negative scores count as 0; when
every weight is 0 the models count equally); ``MEAN`` and ``VOTE`` force the method; ``AUTO``
picks from the task and the shape of the answers.
"""
import json
import math
import numbers
from typing import Optional, Sequence

from singa.constants import CLASSIFICATION_TASKS, EnsembleMethod

_MISSING = object()


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


MISSING = _MISSING


def ensemble_one(answers: list[tuple], method: str, task: str):
    """Combine ``[(answer, weight), ...]`` (at least one) for one query."""
    if len(answers) == 1:
        return answers[0][0]
    method = EnsembleMethod(method) if not isinstance(method, EnsembleMethod) else method
    values = [a for a, _ in answers]
    weighted = method == EnsembleMethod.WEIGHTED_MEAN
    weights = _weights([w for _, w in answers]) if weighted else [1.0] * len(answers)
    if method == EnsembleMethod.VOTE:
        return _vote(values, weights)
    numeric = all(_is_number(v) for v in values)
    vectors = all(_is_vector(v) for v in values)
    if method in (EnsembleMethod.MEAN, EnsembleMethod.WEIGHTED_MEAN):
        if numeric:
            return _mean_numbers(values, weights)
        if vectors:
            return _mean_vectors(values, weights, pad=task in CLASSIFICATION_TASKS)
        return _vote(values, weights)
    # AUTO
    if task in CLASSIFICATION_TASKS:
        return _mean_vectors(values, weights, pad=True) if vectors else _vote(values, weights)
    if numeric:
        return _mean_numbers(values, weights)
    if vectors and len({len(v) for v in values}) == 1:
        return _mean_vectors(values, weights, pad=False)
    return _vote(values, weights)


def _weights(raw: list) -> list[float]:
    clipped = [max(0.0, float(w)) if w is not None and math.isfinite(float(w)) else 0.0 for w in raw]
    return clipped if sum(clipped) > 0 else [1.0] * len(clipped)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_vector(value) -> bool:
    return isinstance(value, list) and bool(value) and all(_is_number(x) for x in value)


def _mean_numbers(values: list, weights: list[float]) -> float:
    return float(sum(v * w for v, w in zip(values, weights)) / sum(weights))


def _mean_vectors(values: list, weights: list[float], pad: bool) -> list:
    length = max(len(v) for v in values)
    if not pad and any(len(v) != length for v in values):
        return _vote(values, weights)
    total = sum(weights)
    return [float(sum((v[i] if i < len(v) else 0.0) * w for v, w in zip(values, weights)) / total)
            for i in range(length)]


def _vote(values: list, weights: list[float]):
    tally: dict = {}
    first: dict = {}
    for i, (value, weight) in enumerate(zip(values, weights)):
        key = json.dumps(value, sort_keys=True)
        tally[key] = tally.get(key, 0.0) + weight
        first.setdefault(key, (i, value))
    best = max(tally, key=lambda k: (tally[k], -first[k][0]))
    return first[best][1]


def pick_method(method: Optional[str]) -> EnsembleMethod:
    return EnsembleMethod.parse(method or EnsembleMethod.AUTO.value, 'ensemble')
