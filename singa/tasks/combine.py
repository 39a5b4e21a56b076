"""The pieces the tasks' ensembling rules are made of: means, votes and the two common rules.

- ``probabilities_rule`` (classification): models answering probability vectors are averaged
  (shorter vectors padded with zeros, so a model that never saw the last classes still counts);
  models answering labels (anything else) are voted on. ``VOTE`` forces the vote; ``MEAN`` and
  ``WEIGHTED_MEAN`` also average plain numbers.
- ``numeric_rule`` (regression): numbers, or equally shaped lists of numbers, are averaged;
  anything else is voted on. ``VOTE`` forces the vote.

A vote counts each distinct answer's total weight; a tie goes to the answer of the earliest model
(models come in the deployment's order, best first).
"""
import json
import numbers

from singa.constants import EnsembleMethod


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_vector(value) -> bool:
    return isinstance(value, list) and bool(value) and all(is_number(x) for x in value)


def mean_numbers(values: list, weights: list[float]) -> float:
    return float(sum(v * w for v, w in zip(values, weights)) / sum(weights))


def mean_vectors(values: list, weights: list[float], pad: bool) -> list:
    """The weighted mean of number lists; unless ``pad``, lists of different lengths are voted on."""
    length = max(len(v) for v in values)
    if not pad and any(len(v) != length for v in values):
        return vote(values, weights)
    total = sum(weights)
    return [float(sum((v[i] if i < len(v) else 0.0) * w for v, w in zip(values, weights)) / total)
            for i in range(length)]


def vote(values: list, weights: list[float]):
    tally: dict = {}
    first: dict = {}
    for i, (value, weight) in enumerate(zip(values, weights)):
        key = json.dumps(value, sort_keys=True)
        tally[key] = tally.get(key, 0.0) + weight
        first.setdefault(key, (i, value))
    best = max(tally, key=lambda k: (tally[k], -first[k][0]))
    return first[best][1]


def probabilities_rule(values: list, weights: list[float], method: EnsembleMethod):
    vectors = all(is_vector(v) for v in values)
    if method == EnsembleMethod.VOTE:
        return vote(values, weights)
    if method != EnsembleMethod.AUTO and all(is_number(v) for v in values):
        return mean_numbers(values, weights)
    return mean_vectors(values, weights, pad=True) if vectors else vote(values, weights)


def numeric_rule(values: list, weights: list[float], method: EnsembleMethod):
    if method == EnsembleMethod.VOTE:
        return vote(values, weights)
    if all(is_number(v) for v in values):
        return mean_numbers(values, weights)
    if all(is_vector(v) for v in values):
        return mean_vectors(values, weights, pad=False)
    return vote(values, weights)
