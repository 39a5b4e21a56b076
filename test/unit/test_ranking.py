"""Which trial is best (``singa.ranking``): the tie tolerance a task's validation set gives, the
tie-break, the rule in words, and the advisor's own notion of best following the same rule."""
import pytest

from singa.advisor import PastTrial, make_advisor
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


def _constrained(tolerance: float = 0.05, bound: float = 2.0):
    """SEARCH's six trials searched under ``predict_latency_ms <= bound``."""
    advisor = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0, tie_tolerance=tolerance,
                           constraints=[{'name': 'predict_latency_ms', 'max': bound}])
    for no, (score, latency) in enumerate(SEARCH, start=1):
        advisor.propose(no)
        advisor.feedback(no, score, 'COMPLETED', metrics={'score': score, 'predict_latency_ms': latency})
    return advisor


def test_the_advisor_calls_best_only_a_trial_that_meets_the_constraints():
    # Trials 3 and 5 (score 1.0) take 5 and 3 ms: over the bound. Of the rest, trial 2 (0.96) is
    # best, and the tie tolerance counts from it (trial 6, at 0.7, does not tie with it).
    advisor = _constrained()
    assert advisor.best_trial().no == 2
    finals = [advisor.propose(no) for no in (7, 8)]
    assert [p.meta['retrains'] for p in finals] == [2, 6]       # the feasible ones, best first
    assert [p.shared_params_trial_no for p in finals] == [2, 6]


def test_when_no_trial_meets_the_constraints_none_is_best_and_the_final_phase_searches():
    # As the API's type=best and the default deployment: no trial is best; nothing to retrain or
    # warm-start from, so the final phase's trials are new knobs from the sampler, trained in full.
    advisor = _constrained(bound=0.01)
    assert advisor.best_trial() is None
    finals = [advisor.propose(no) for no in (7, 8)]
    assert [p.meta['phase'] for p in finals] == ['FINAL_TRAIN'] * 2
    assert [p.meta.get('retrains') for p in finals] == [None, None]
    assert [p.shared_params_trial_no for p in finals] == [None, None]
    assert all(p.knobs['es'] is False and p.meta['sampled'] for p in finals)


def test_ties_are_ordered_by_the_database_numbers_a_retry_has_its_own():
    # Trial 1 was lost and re-run as the database's trial 3, after trial 2: of the two tied trials the
    # database ranks 2 first, and so does the advisor.
    advisor = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0, tie_tolerance=0.05)
    advisor.propose(1)
    advisor.propose(2)
    advisor.feedback(2, 0.9, 'COMPLETED')
    advisor.feedback(1, 0.9, 'COMPLETED', recorded_no=3)
    assert advisor.best_trial().no == 2 and advisor.best_trial().ranked_no == 2
    # The same from the database's records (a restart): the retry is restored under its number.
    restored = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0, tie_tolerance=0.05)
    restored.restore([PastTrial(no=1, recorded_no=3, knobs=advisor.plan.records[1].knobs, status='COMPLETED',
                                score=0.9),
                      PastTrial(no=2, knobs=advisor.plan.records[2].knobs, status='COMPLETED', score=0.9)])
    assert restored.best_trial().no == 2


def test_the_final_phase_counts_trials_spent_not_trial_numbers():
    # 8 trials, the last 2 final. Trial 1 was lost and retried as the database's trial 2, so the
    # search's 6th trial has number 7: it is still a search trial, and the final phase takes the
    # trials numbered 8 and 9.
    advisor = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0)
    phases = {}
    for no in (1, 3, 4, 5, 6, 7, 8, 9):
        proposal = advisor.propose(no)
        phases[no] = proposal.meta['phase']
        advisor.feedback(no, 0.5, 'COMPLETED', recorded_no=2 if no == 1 else None)
    assert phases == {1: 'SEARCH', 3: 'SEARCH', 4: 'SEARCH', 5: 'SEARCH', 6: 'SEARCH', 7: 'SEARCH',
                      8: 'FINAL_TRAIN', 9: 'FINAL_TRAIN'}
    # Rebuilt from the database after the 6th trial (a restart, or a live budget change), the same.
    rebuilt = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 8}, seed=0)
    rebuilt.restore([PastTrial(no=no, recorded_no=2 if no == 1 else None, knobs=advisor.plan.records[no].knobs,
                               status='COMPLETED', score=0.5, meta={'phase': 'SEARCH'}) for no in (1, 3, 4, 5, 6, 7)])
    assert rebuilt.propose(8).meta['phase'] == 'FINAL_TRAIN'
