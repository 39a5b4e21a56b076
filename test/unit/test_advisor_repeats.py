"""No repeated proposals in finite spaces: repeats are detected on the active knobs' values,
whatever the trial that had a configuration became (running, failed, restored), and the search is
exhausted once every configuration was proposed; ``allow_repeats`` lifts the rule."""
import pytest

from singa.advisor import PastTrial, make_advisor
from singa.advisor.space import SearchSpace
from singa.model import CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob

EIGHT = {'criterion': CategoricalKnob(['gini', 'entropy']), 'depth': IntegerKnob(2, 3),
         'balanced': CategoricalKnob([False, True]), 'seed': FixedKnob(0)}
# 3 kernels for svc, 5 depths for tree: 8 configurations.
CONDITIONAL_EIGHT = {'clf': CategoricalKnob(['svc', 'tree']),
                     'kernel': CategoricalKnob(['rbf', 'poly', 'linear'], condition={'clf': ['svc']}),
                     'depth': IntegerKnob(1, 5, condition={'clf': ['tree']})}


def keys(config, proposals):
    space = SearchSpace(config)
    return [space.config_key(p.knobs) for p in proposals]


def propose_all(advisor, limit, status='COMPLETED'):
    proposals = []
    for no in range(1, limit + 1):
        p = advisor.propose(no)
        if p is None:
            break
        proposals.append(p)
        if status is not None:
            advisor.feedback(no, 0.5 if status == 'COMPLETED' else None, status)
    return proposals


@pytest.mark.parametrize('config', [EIGHT, CONDITIONAL_EIGHT], ids=['plain', 'conditional'])
@pytest.mark.parametrize('advisor_type', ['TPE', 'RANDOM'])
@pytest.mark.parametrize('seed', [0, 1, 2])
def test_a_finite_space_gets_each_configuration_once_then_is_exhausted(config, advisor_type, seed):
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 20}, advisor_type, seed=seed)
    proposals = propose_all(advisor, 20)
    assert len(proposals) == 8
    assert len(set(keys(config, proposals))) == 8
    assert advisor.propose(9) is None


@pytest.mark.parametrize('status', [None, 'ERRORED', 'STOPPED'], ids=['running', 'errored', 'stopped'])
def test_running_and_failed_configurations_are_not_proposed_again(status):
    advisor = make_advisor(EIGHT, {'MODEL_TRIAL_COUNT': 20}, 'TPE', seed=0)
    proposals = propose_all(advisor, 20, status=status)
    assert len(set(keys(EIGHT, proposals))) == len(proposals) == 8


def test_configurations_are_compared_on_their_active_knobs():
    space = SearchSpace(CONDITIONAL_EIGHT)
    assert space.config_key({'clf': 'tree', 'kernel': 'rbf', 'depth': 3}) == \
        space.config_key({'clf': 'tree', 'kernel': None, 'depth': 3})
    assert space.config_key({'clf': 'svc', 'kernel': 'rbf', 'depth': 3}) == \
        space.config_key({'clf': 'svc', 'kernel': 'rbf', 'depth': None})
    assert space.config_key({'clf': 'svc', 'kernel': 'rbf'}) != space.config_key({'clf': 'svc', 'kernel': 'poly'})


def test_a_resumed_advisor_knows_what_was_proposed_before():
    """Seven configurations restored (as the database keeps them: some running, one failed, with
    values recorded for inactive knobs): the resumed advisor proposes the eighth, then nothing."""
    recorded = [{'clf': 'svc', 'kernel': k, 'depth': 1} for k in ('rbf', 'poly', 'linear')] + \
               [{'clf': 'tree', 'kernel': 'rbf', 'depth': d} for d in (1, 2, 3, 5)]
    statuses = ['COMPLETED', 'RUNNING', 'ERRORED', 'COMPLETED', 'RUNNING', 'COMPLETED', 'STOPPED']
    past = [PastTrial(no=i + 1, knobs=knobs, status=status, score=0.5 if status == 'COMPLETED' else None)
            for i, (knobs, status) in enumerate(zip(recorded, statuses))]
    for advisor_type in ('TPE', 'RANDOM'):
        advisor = make_advisor(CONDITIONAL_EIGHT, {'MODEL_TRIAL_COUNT': 20}, advisor_type, seed=0)
        advisor.restore(past)
        last = advisor.propose(advisor.next_trial_no)
        assert (last.knobs['clf'], last.knobs['depth']) == ('tree', 4)
        assert last.knobs['kernel'] is None
        assert advisor.propose(advisor.next_trial_no) is None


def test_allow_repeats_lifts_the_rule():
    config = {'a': CategoricalKnob(['x', 'y'])}
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 12}, 'RANDOM', seed=0, allow_repeats=True)
    proposals = propose_all(advisor, 12)
    assert len(proposals) == 12
    assert len(set(keys(config, proposals))) == 2


def test_infinite_spaces_are_never_exhausted():
    config = {'a': CategoricalKnob(['x', 'y']), 'lr': FloatKnob(0.0, 1.0)}
    assert not SearchSpace(config).is_finite
    assert len(propose_all(make_advisor(config, {'MODEL_TRIAL_COUNT': 10}, 'TPE', seed=0), 10)) == 10


def test_a_space_too_large_to_list_is_searched_without_repeats():
    config = {'n': IntegerKnob(1, 2000), 'm': IntegerKnob(1, 2000)}
    space = SearchSpace(config)
    assert space.is_finite and space.grid_size() is None
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 30}, 'TPE', seed=0)
    proposals = propose_all(advisor, 30)
    assert len(set(keys(config, proposals))) == len(proposals) == 30


def test_a_split_plan_retrains_its_best_in_full_after_the_search_is_exhausted():
    """Final training trials retrain searched configurations with their cheap policies off: by
    design, and not a repeat; no configuration is searched twice."""
    config = {**EIGHT, 'early_stop': PolicyKnob('EARLY_STOP')}
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': 16}, 'TPE', seed=0)
    proposals = propose_all(advisor, 16)
    search = [p for p in proposals if p.meta['phase'] == 'SEARCH']
    final = [p for p in proposals if p.meta['phase'] == 'FINAL_TRAIN']
    assert len(set(keys(config, search))) == len(search) == 8
    assert final and all(p.knobs['early_stop'] is False for p in final)
    assert set(keys(config, final)) <= set(keys(config, search))
    assert advisor.propose(len(proposals) + 1) is None
