"""Which trial is best (``singa.ranking``): the tie tolerance a task's validation set gives, the
tie-break, the rule in words, and the advisor's own notion of best following the same rule."""
import pytest

from singa.advisor import make_advisor
from singa.constants import Task
from singa.model import FloatKnob, PolicyKnob
from singa.objectives import Constraint
from singa.ranking import DEFAULT_TIE_TOLERANCE, is_tie, rank_key, rank_rule, tie_tolerance
from singa.tasks import get_task


@pytest.mark.parametrize('task, stat, resolution', [
    (Task.TABULAR_CLASSIFICATION, {'format': 'csv', 'rows': 36}, 1 / 36),
    (Task.IMAGE_CLASSIFICATION, {'format': 'images_csv', 'images': 360}, 1 / 360),
    (Task.POS_TAGGING, {'format': 'corpus_tsv', 'sentences': 300, 'tokens': 2000}, 1 / 2000),
    (Task.TABULAR_REGRESSION, {'format': 'csv', 'rows': 36}, None),          # R^2 counts no examples
    (Task.IMAGE_DETECTION, {'format': 'coco', 'images': 80}, None),          # nor does mAP
    (Task.TABULAR_CLASSIFICATION, {'format': 'csv'}, None),                  # a count not recorded
    (Task.TABULAR_CLASSIFICATION, {'format': 'csv', 'rows': 0}, None),
])
def test_a_score_that_counts_examples_has_the_resolution_of_one_example(task, stat, resolution):
    assert get_task(task).score_resolution(stat) == resolution
    assert tie_tolerance(resolution) == DEFAULT_TIE_TOLERANCE + (resolution or 0.0)   # with floating-point noise


def test_trials_within_the_tolerance_tie_and_the_earliest_proposed_of_them_wins():
    tolerance = tie_tolerance(1 / 36)
    # (score, trial number): the first is one example below the best; the last two examples below.
    trials = [(1.0 - 1 / 36, 3), (1.0, 5), (1.0, 4), (1.0 - 2 / 36, 1), (1.0 - 1e-12, 2)]
    order = sorted(range(len(trials)), key=lambda i: rank_key(*trials[i], best_score=1.0, tolerance=tolerance))
    assert order == [4, 0, 2, 1, 3]
    exact = sorted(range(len(trials)), key=lambda i: rank_key(*trials[i], best_score=1.0))
    assert exact == [4, 2, 1, 0, 3]
    assert is_tie(1.0 - 1 / 36, 1.0, tolerance) and not is_tie(1.0 - 1 / 36, 1.0) and not is_tie(None, 1.0)


def test_the_rule_in_words_says_the_tolerance_the_tie_break_and_the_constraints():
    assert 'within 1e-09 of the best score' in rank_rule()
    rule = rank_rule(tie_tolerance(1 / 36), (Constraint('predict_latency_ms', max=5),))
    assert 'within 0.0277778 of the best score (one example of the validation set)' in rule
    assert rule.startswith('among the trials meeting predict_latency_ms <= 5, the highest validation score')
    assert 'the earliest proposed' in rule and 'then the earliest to finish' in rule


ES_CONFIG = {'x': FloatKnob(-5.0, 5.0), 'es': PolicyKnob('EARLY_STOP'), 'sp': PolicyKnob('SHARE_PARAMS')}
# Search trials' (score, predict_latency_ms), by trial number from 1: trial 2 is within 0.05 of the best.
SEARCH = [(0.5, 0.1), (0.96, 1.0), (1.0, 5.0), (0.6, 0.1), (1.0, 3.0), (0.7, 0.1)]


def _searched(tolerance: float):
    advisor = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0, tie_tolerance=tolerance)
    for no, (score, latency) in enumerate(SEARCH, start=1):
        assert advisor.propose(no).meta['phase'] == 'SEARCH'
        advisor.feedback(no, score, 'COMPLETED', metrics={'score': score, 'predict_latency_ms': latency,
                                                           'params_bytes': 100.0})
    return advisor


@pytest.mark.parametrize('tolerance, expected', [(DEFAULT_TIE_TOLERANCE, [3, 5]), (0.05, [2, 3])])
def test_the_advisor_retrains_warm_starts_from_and_calls_best_what_the_rule_ranks_first(tolerance, expected):
    advisor = _searched(tolerance)
    assert advisor.best_trial().no == expected[0]
    finals = [advisor.propose(no) for no in (7, 8)]
    assert [p.meta['phase'] for p in finals] == ['FINAL_TRAIN'] * 2
    assert [p.meta['retrains'] for p in finals] == expected
    assert [p.shared_params_trial_no for p in finals] == expected      # each from the trial it retrains


def test_a_search_trial_warm_starts_from_the_best_by_the_rule():
    advisor = make_advisor({'x': FloatKnob(-5.0, 5.0), 'sp': PolicyKnob('SHARE_PARAMS')}, {'MODEL_TRIAL_COUNT': 40},
                           seed=0, tie_tolerance=0.05)
    for no, (score, latency) in enumerate(SEARCH, start=1):
        advisor.propose(no)
        advisor.feedback(no, score, 'COMPLETED', metrics={'predict_latency_ms': latency})
    shared = {p.shared_params_trial_no for p in (advisor.propose(no) for no in range(7, 40))} - {None}
    assert shared == {2}
