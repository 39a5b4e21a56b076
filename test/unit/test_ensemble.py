import pytest

from singa.workers.predictor.ensemble import MISSING, ensemble_batch, ensemble_one

CLF = 'TABULAR_CLASSIFICATION'
REG = 'TABULAR_REGRESSION'


def test_classification_probabilities_are_averaged_and_padded():
    out = ensemble_one([([0.2, 0.8], 1.0), ([0.6, 0.2, 0.2], 1.0)], 'AUTO', CLF)
    assert out == pytest.approx([0.4, 0.5, 0.1])


def test_weighted_mean_uses_scores_and_ignores_negative_ones():
    out = ensemble_one([([1.0, 0.0], 0.9), ([0.0, 1.0], 0.1), ([0.0, 1.0], -5.0)], 'WEIGHTED_MEAN', CLF)
    assert out == pytest.approx([0.9, 0.1])
    # All weights zero: the models count equally.
    assert ensemble_one([(1.0, 0.0), (3.0, -1.0)], 'WEIGHTED_MEAN', REG) == pytest.approx(2.0)


def test_labels_are_voted_ties_to_the_first_model():
    assert ensemble_one([('cat', 1), ('dog', 1), ('dog', 1)], 'AUTO', CLF) == 'dog'
    assert ensemble_one([('cat', 1), ('dog', 1)], 'AUTO', CLF) == 'cat'
    assert ensemble_one([([1, 2], 1), ([1, 2], 1), ([3], 1)], 'VOTE', CLF) == [1, 2]


def test_regression_means_numbers_and_same_shaped_vectors():
    assert ensemble_one([(1.0, 1), (2.0, 1), (6.0, 1)], 'AUTO', REG) == pytest.approx(3.0)
    assert ensemble_one([([1.0, 2.0], 1), ([3.0, 4.0], 1)], 'AUTO', REG) == pytest.approx([2.0, 3.0])
    # Different shapes cannot be averaged: vote instead.
    assert ensemble_one([([1.0], 1), ([1.0, 2.0], 1), ([1.0], 1)], 'AUTO', REG) == [1.0]


def test_one_answer_is_returned_as_is():
    assert ensemble_one([({'boxes': []}, 0.3)], 'AUTO', CLF) == {'boxes': []}


def test_batches_skip_missing_answers_per_query():
    per_model = [[[1.0, 0.0], MISSING, MISSING], [[0.0, 1.0], [0.5, 0.5], MISSING]]
    out = ensemble_batch(per_model, [1.0, 1.0], 'AUTO', CLF)
    assert out[0] == pytest.approx([0.5, 0.5]) and out[1] == [0.5, 0.5] and out[2] is None


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError):
        ensemble_one([(1, 1), (2, 1)], 'MEDIAN', REG)
