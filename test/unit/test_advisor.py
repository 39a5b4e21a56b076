"""The advisors: AUTO choices, named choices that do not fit, search, grid, conditional and
architecture knobs, pruning, the policies' effects, restore and determinism."""
import json
import math

import pytest

from singa.advisor import PastTrial, Proposal, make_advisor
from singa.constants import TrialStatus
from singa.errors import InvalidRequestError
from singa.model import (ArchKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob,
                         serialize_knob_config)

CONDITIONAL = {
    'clf': CategoricalKnob(['svc', 'tree']),
    'c': FloatKnob(1e-3, 1e3, is_exp=True, condition={'clf': ['svc']}),
    'kernel': CategoricalKnob(['rbf', 'poly'], condition={'clf': ['svc']}),
    'degree': IntegerKnob(2, 4, condition={'kernel': ['poly']}),
    'depth': IntegerKnob(1, 30, condition={'clf': ['tree']}),
}
NUMERIC = {'x': FloatKnob(-5.0, 5.0), 'y': FloatKnob(1e-3, 10.0, is_exp=True), 'n': IntegerKnob(1, 50)}


def objective(knobs):
    """A smooth score with its maximum at x = 1, y = 1 (other knobs ignored)."""
    return -((knobs.get('x') or 0) - 1) ** 2 - math.log10(knobs.get('y') or 1) ** 2


def run(advisor, trials, score=objective, start=1, params_saved=True):
    proposals = []
    for no in range(start, start + trials):
        p = advisor.propose(no)
        if p is None:
            break
        proposals.append(p)
        advisor.feedback(no, score(p.knobs), 'COMPLETED', params_saved=params_saved)
    return proposals


# Choosing the advisor.
@pytest.mark.parametrize('config, budget, expected', [
    ({'a': FixedKnob(1), 'p': PolicyKnob('EARLY_STOP')}, {}, 'FIXED'),
    ({'a': CategoricalKnob([1, 2, 3]), 'b': IntegerKnob(1, 3)}, {'MODEL_TRIAL_COUNT': 10}, 'GRID'),
    ({'a': CategoricalKnob([1, 2, 3]), 'b': IntegerKnob(1, 4)}, {'MODEL_TRIAL_COUNT': 10}, 'TPE'),
    ({'a': CategoricalKnob([1, 2, 3]), 'b': IntegerKnob(1, 4)}, {'TIME_HOURS': 1}, 'GRID'),
    ({'a': CategoricalKnob(list(range(30)))}, {'MODEL_TRIAL_COUNT': -1}, 'TPE'),
    (NUMERIC, {'MODEL_TRIAL_COUNT': 1000}, 'TPE'),
    (CONDITIONAL, {'MODEL_TRIAL_COUNT': 20}, 'TPE'),
])
def test_auto_chooses_like_singa_auto(config, budget, expected):
    advisor = make_advisor(config, budget)
    assert getattr(advisor, 'advisor_type', 'FIXED') == expected


@pytest.mark.parametrize('config, advisor_type, message', [
    (NUMERIC, 'GRID', 'GRID needs a finite space.*x, y'),
    (CONDITIONAL, 'CMAES', 'cannot search conditional'),
    ({'x': FloatKnob(0, 1), 'c': CategoricalKnob(['a', 'b'])}, 'CMAES', 'only numeric knobs; not c'),
    ({'x': FloatKnob(0, 1)}, 'CMAES', 'at least two numeric'),
    ({'x': FloatKnob(0, 1), 'a': ArchKnob([[1, 2]])}, 'GP', 'not a'),
    ({'x': FloatKnob(0, 1)}, 'FIXED', 'nothing to search'),
    ({'x': FixedKnob(0)}, 'TPE', 'at least one knob to search'),
    (NUMERIC, 'SMAC', 'advisor_type must be one of AUTO, FIXED, TPE'),
])
def test_named_choices_that_do_not_fit_say_why(config, advisor_type, message):
    with pytest.raises(InvalidRequestError, match=message):
        make_advisor(config, {}, advisor_type)


def test_unknown_pruner_lists_the_valid_ones():
    with pytest.raises(InvalidRequestError, match='pruner must be one of NONE, MEDIAN'):
        make_advisor(NUMERIC, {}, pruner='ASHA')


def test_serialized_knob_config_is_accepted():
    advisor = make_advisor(serialize_knob_config(NUMERIC), {'MODEL_TRIAL_COUNT': 5}, seed=0)
    assert set(advisor.propose(1).knobs) == {'x', 'y', 'n'}


# Searching.
def test_fixed_advisor_proposes_exactly_one_full_trial():
    advisor = make_advisor({'a': FixedKnob('v'), 'es': PolicyKnob('EARLY_STOP')}, {'MODEL_TRIAL_COUNT': 5})
    p = advisor.propose(1)
    assert p.knobs == {'a': 'v', 'es': False} and advisor.propose(2) is None
    advisor.feedback(1, 0.5, 'COMPLETED')
    assert advisor.report(1, 1, 0.1) is False


@pytest.mark.parametrize('advisor_type', ['TPE', 'RANDOM', 'CMAES', 'GP'])
def test_every_sampler_proposes_in_bounds_and_improves_on_a_smooth_objective(advisor_type):
    advisor = make_advisor(NUMERIC, {'MODEL_TRIAL_COUNT': 30}, advisor_type, seed=3)
    proposals = run(advisor, 30 if advisor_type != 'GP' else 14)
    for p in proposals:
        assert -5 <= p.knobs['x'] <= 5 and 1e-3 <= p.knobs['y'] <= 10 and isinstance(p.knobs['n'], int)
        json.dumps(p.to_dict())
    assert advisor.best_trial().score > -1.0
    dists = advisor.study.trials[0].distributions
    assert dists['y'].log is True and dists['x'].log is False


def test_grid_proposes_each_valid_configuration_once_then_none():
    config = {'clf': CategoricalKnob(['svc', 'tree']),
              'kernel': CategoricalKnob(['rbf', 'poly'], condition={'clf': ['svc']}),
              'depth': IntegerKnob(1, 3, condition={'clf': ['tree']})}
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 10}, seed=0)
    assert advisor.advisor_type == 'GRID'
    seen = [tuple(sorted(p.knobs.items())) for p in run(advisor, 10)]
    assert len(seen) == len(set(seen)) == 5
    assert advisor.propose(6) is None


def test_conditional_knobs_are_none_when_inactive_and_only_active_ones_are_sampled():
    advisor = make_advisor(CONDITIONAL, {'MODEL_TRIAL_COUNT': 40}, seed=1)
    proposals = run(advisor, 40, score=lambda k: 1.0 if k['clf'] == 'svc' else 0.0)
    assert {p.knobs['clf'] for p in proposals} == {'svc', 'tree'}
    for p, trial in zip(proposals, advisor.study.trials):
        k = p.knobs
        assert set(k) == set(CONDITIONAL)
        if k['clf'] == 'tree':
            assert k['c'] is k['kernel'] is k['degree'] is None and 1 <= k['depth'] <= 30
        else:
            assert k['depth'] is None and k['c'] is not None
            assert (k['degree'] is None) == (k['kernel'] == 'rbf')
        assert set(trial.params) == {n for n, v in k.items() if v is not None}


def test_arch_knob_samples_each_position():
    advisor = make_advisor({'arch': ArchKnob([[1, 2, 3], ['a', 'b'], [True]]), 'lr': FloatKnob(0, 1)},
                           {'MODEL_TRIAL_COUNT': 10}, seed=0)
    for p in run(advisor, 10):
        a = p.knobs['arch']
        assert len(a) == 3 and a[0] in (1, 2, 3) and a[1] in ('a', 'b') and a[2] is True


# Pruning.
@pytest.mark.parametrize('pruner', ['MEDIAN', 'SUCCESSIVE_HALVING', 'HYPERBAND'])
def test_pruners_stop_trials_that_fall_behind(pruner):
    advisor = make_advisor(NUMERIC, {'MODEL_TRIAL_COUNT': 30}, pruner=pruner, seed=0)
    pruned = []
    for no in range(1, 31):
        advisor.propose(no)
        quality = 1.0 if no <= 6 else 0.1 * (no % 3)   # the first six are the good ones
        for step in range(1, 10):
            if advisor.report(no, step, quality * step / 10):
                pruned.append(no)
                advisor.feedback(no, None, 'PRUNED')
                break
        else:
            advisor.feedback(no, quality, 'COMPLETED')
    assert pruned and all(no > 6 for no in pruned)
    states = {t.state.name for t in advisor.study.trials}
    assert 'PRUNED' in states
    assert advisor.plan.records[pruned[0]].score is not None   # last intermediate kept


def test_no_pruner_never_prunes():
    advisor = make_advisor(NUMERIC, {}, seed=0)
    run(advisor, 5)
    advisor.propose(6)
    assert not any(advisor.report(6, s, -100.0) for s in range(1, 20))


# Policies.
ES_CONFIG = {'x': FloatKnob(-5.0, 5.0), 'y': FloatKnob(0.1, 10.0), 'es': PolicyKnob('EARLY_STOP'),
             'ds': PolicyKnob('DOWNSCALE'), 'qe': PolicyKnob('QUICK_EVAL'), 'st': PolicyKnob('SKIP_TRAIN')}


def test_early_stop_searches_with_short_trials_then_fully_trains_the_best():
    advisor = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 12}, seed=0)
    proposals = run(advisor, 12)
    phases = [p.meta['phase'] for p in proposals]
    assert phases == ['SEARCH'] * 9 + ['FINAL_TRAIN'] * 3
    for p in proposals:
        search = p.meta['phase'] == 'SEARCH'
        assert p.knobs['es'] is p.knobs['ds'] is p.knobs['qe'] is search and p.knobs['st'] is False
    search_scores = sorted(((objective(p.knobs), p.trial_no) for p in proposals[:9]), reverse=True)
    assert [p.meta['retrains'] for p in proposals[9:]] == [no for _, no in search_scores[:3]]
    for p in proposals[9:]:
        source = proposals[p.meta['retrains'] - 1].knobs
        assert (p.knobs['x'], p.knobs['y']) == (source['x'], source['y'])


def test_early_stop_split_follows_the_time_budget():
    advisor = make_advisor(ES_CONFIG, {'TIME_HOURS': 1.0}, seed=0)
    t0 = 1_000_000.0
    early = [advisor.propose(no, now=t0 + no * 60) for no in range(1, 5)]
    for p in early:
        advisor.feedback(p.trial_no, objective(p.knobs), 'COMPLETED')
    late = advisor.propose(5, now=t0 + 0.8 * 3600)
    assert [p.meta['phase'] for p in early] == ['SEARCH'] * 4 and late.meta['phase'] == 'FINAL_TRAIN'
    assert late.knobs['es'] is False and late.meta['plan_started'] == t0 + 60


def test_without_a_bounded_budget_or_cheap_policy_every_trial_is_full():
    for config, budget in ((ES_CONFIG, {}), (NUMERIC, {'MODEL_TRIAL_COUNT': 10}), (ES_CONFIG, {'MODEL_TRIAL_COUNT': 3})):
        for p in run(make_advisor(config, budget, seed=0), 6):
            assert p.meta['phase'] == 'SEARCH' and p.knobs.get('es', False) is False


def test_share_params_warm_starts_from_the_best_saved_trial():
    config = {'x': FloatKnob(-5.0, 5.0), 'sp': PolicyKnob('SHARE_PARAMS')}
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 20}, seed=0)
    best_so_far, shared = None, []
    for no in range(1, 21):
        p = advisor.propose(no)
        assert p.knobs['sp'] is (p.shared_params_trial_no is not None)
        if p.shared_params_trial_no is not None:
            assert p.shared_params_trial_no == best_so_far[1]
            shared.append(no)
        score = objective(p.knobs)
        saved = no != 3                      # trial 3's params were not saved: never shared
        advisor.feedback(no, score, 'COMPLETED', params_saved=saved)
        if saved and (best_so_far is None or score > best_so_far[0]):
            best_so_far = (score, no)
    assert len(shared) >= 8 and shared[-1] == 20 and 3 not in [advisor.propose(21).shared_params_trial_no]


def test_final_trials_warm_start_from_the_search_trial_they_retrain():
    config = dict(ES_CONFIG, sp=PolicyKnob('SHARE_PARAMS'))
    proposals = run(make_advisor(config, {'MODEL_TRIAL_COUNT': 8}, seed=0), 8)
    for p in proposals[6:]:
        assert p.shared_params_trial_no == p.meta['retrains'] and p.knobs['sp'] is True


# Restore and determinism.
def to_past(advisor, proposals, running=()):
    past = []
    for p in proposals:
        r = advisor.plan.records[p.trial_no]
        status = TrialStatus.RUNNING.value if p.trial_no in running else r.status
        past.append(PastTrial(no=p.trial_no, knobs=p.knobs, status=status, score=r.score,
                              intermediate=list(r.intermediate), meta=json.loads(json.dumps(p.meta)),
                              params_saved=r.params_saved))
    return past


def test_restore_resumes_numbering_phases_and_the_sampler_history():
    first = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 12}, seed=5)
    proposals = run(first, 10)                   # 9 search trials, then the first final one
    running = first.propose(11)
    proposals.append(running)
    second = make_advisor(ES_CONFIG, {'MODEL_TRIAL_COUNT': 12}, seed=5)
    second.restore(to_past(first, proposals, running=(11,)))
    assert second.next_trial_no == 12
    assert len(second.study.trials) == 9 and second.plan.started_at == first.plan.started_at
    second.feedback(11, -100.0, 'COMPLETED')     # the restored running trial can still finish
    p = second.propose(12)
    assert p.meta['phase'] == 'FINAL_TRAIN'
    assert p.meta['retrains'] not in {first.plan.records[10].retrains, first.plan.records[11].retrains}
    assert second.best_trial().no == first.best_trial().no


def test_restored_running_search_trial_can_be_reported_and_pruned():
    first = make_advisor(NUMERIC, {}, pruner='MEDIAN', seed=0)
    proposals = []
    for no in range(1, 7):
        proposals.append(first.propose(no))
        for step in range(1, 4):
            first.report(no, step, 1.0)
        first.feedback(no, 1.0, 'COMPLETED')
    proposals.append(first.propose(7))
    second = make_advisor(NUMERIC, {}, pruner='MEDIAN', seed=0)
    second.restore(to_past(first, proposals, running=(7,)))
    assert second.study.trials[-1].state.name == 'RUNNING'
    assert second.report(7, 2, 0.0) is True
    second.feedback(7, None, 'PRUNED')
    assert second.study.trials[-1].state.name == 'PRUNED'
    assert second.propose(8).trial_no == 8 and len(second.study.trials) == 8


def test_restore_skips_grid_points_already_tried():
    config = {'a': CategoricalKnob([1, 2, 3]), 'b': CategoricalKnob(['x', 'y'])}
    first = make_advisor(config, {'MODEL_TRIAL_COUNT': 6}, seed=0)
    done = run(first, 4)
    second = make_advisor(config, {'MODEL_TRIAL_COUNT': 6}, seed=0)
    second.restore(to_past(first, done))
    rest = run(second, 5, start=5)
    keys = {(p.knobs['a'], p.knobs['b']) for p in done + rest}
    assert len(rest) == 2 and len(keys) == 6


def test_same_seed_same_proposals_different_seed_different():
    def sequence(seed):
        return [p.knobs for p in run(make_advisor(CONDITIONAL, {'MODEL_TRIAL_COUNT': 25}, seed=seed), 25,
                                     score=lambda k: (k['c'] or 0) / 1000)]
    assert sequence(11) == sequence(11)
    assert sequence(11) != sequence(12)


def test_feedback_contract():
    advisor = make_advisor(NUMERIC, {}, seed=0)
    with pytest.raises(InvalidRequestError, match='never proposed'):
        advisor.feedback(1, 1.0, 'COMPLETED')
    advisor.propose(1)
    advisor.feedback(1, None, 'COMPLETED')           # no score: counted as an error
    advisor.feedback(1, 0.9, 'COMPLETED')            # a repeat is ignored
    assert advisor.plan.records[1].status == 'ERRORED' and advisor.study.trials[0].state.name == 'FAIL'
    advisor.propose(2)
    with pytest.raises(InvalidRequestError, match='status must be one of'):
        advisor.feedback(2, 1.0, 'DONE')
    p = advisor.propose(3)
    assert Proposal.from_dict(json.loads(json.dumps(p.to_dict()))) == p
