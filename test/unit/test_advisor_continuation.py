"""Continuing a search: an advisor warm-started with another job's trials, trials the user
enqueued with given knobs (``propose_given``), a user's knob set checked against the space, and a
resumed run that plans its own phases."""
import pytest

from singa.advisor import PastTrial, make_advisor
from singa.advisor.space import SearchSpace
from singa.errors import InvalidKnobsError
from singa.model import CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob

EIGHT = {'criterion': CategoricalKnob(['gini', 'entropy']), 'depth': IntegerKnob(2, 3),
         'balanced': CategoricalKnob([False, True]), 'seed': FixedKnob(0)}
CONDITIONAL = {'clf': CategoricalKnob(['svc', 'tree']),
               'kernel': CategoricalKnob(['rbf', 'poly', 'linear'], condition={'clf': ['svc']}),
               'depth': IntegerKnob(1, 5, condition={'clf': ['tree']}), 'lr': FloatKnob(0.1, 1.0),
               'early': PolicyKnob('EARLY_STOP')}


def knobs(criterion, depth, balanced):
    return {'criterion': criterion, 'depth': depth, 'balanced': balanced, 'seed': 0}


OLD = [knobs('gini', 2, False), knobs('gini', 3, True), knobs('entropy', 2, True)]


def told(knob_sets, score=0.5):
    return [PastTrial(no=i + 1, knobs=k, status='COMPLETED', score=score) for i, k in enumerate(knob_sets)]


def run(advisor, start=1, limit=20):
    out = []
    for no in range(start, start + limit):
        p = advisor.propose(no)
        if p is None:
            break
        advisor.feedback(no, 0.5, 'COMPLETED')
        out.append(p.knobs)
    return out


@pytest.mark.parametrize('advisor_type', ['AUTO', 'TPE', 'RANDOM', 'GRID'])
def test_a_warm_start_tells_the_search_and_its_configurations_are_not_proposed_again(advisor_type):
    space = SearchSpace(EIGHT)
    advisor = make_advisor(EIGHT, {'MODEL_TRIAL_COUNT': -1}, advisor_type, seed=0)
    assert advisor.warm_start(told(OLD) + [PastTrial(no=9, knobs=OLD[0], status='ERRORED')]) == 3
    assert len(advisor.study.trials) == 3    # the sampler knows them
    new = run(advisor)
    assert len(new) == 5 and not {space.config_key(k) for k in new} & {space.config_key(k) for k in OLD}


def test_with_repeats_allowed_a_warm_start_only_informs_the_search():
    advisor = make_advisor(EIGHT, {'MODEL_TRIAL_COUNT': 12}, 'RANDOM', seed=0, allow_repeats=True)
    assert advisor.warm_start(told(OLD)) == 3
    assert len(run(advisor, limit=12)) == 12


def test_an_enqueued_knob_set_is_proposed_as_given_and_then_counts_as_proposed():
    space = SearchSpace(EIGHT)
    advisor = make_advisor(EIGHT, {'MODEL_TRIAL_COUNT': 20}, 'TPE', seed=0)
    given = advisor.propose_given(1, knobs('entropy', 3, True))
    assert given.knobs == knobs('entropy', 3, True) and given.trial_no == 1
    advisor.feedback(1, 0.9, 'COMPLETED')
    assert advisor.study.trials[-1].value == 0.9            # the sampler learns from it
    assert advisor.propose_given(2, knobs('entropy', 3, True)) is None   # a repeat
    rest = run(advisor, start=2)
    assert len(rest) == 7 and space.config_key(knobs('entropy', 3, True)) not in {space.config_key(k) for k in rest}


def test_an_enqueued_knob_set_told_before_is_a_repeat():
    advisor = make_advisor(EIGHT, {'MODEL_TRIAL_COUNT': -1}, 'GRID', seed=0)
    advisor.warm_start(told(OLD))
    assert advisor.propose_given(1, OLD[1]) is None
    assert advisor.propose_given(1, knobs('entropy', 3, False)) is not None
    assert len(run(advisor, start=2)) == 4


def test_user_knobs_are_completed_or_refused_naming_the_knob():
    space = SearchSpace(CONDITIONAL)
    full = space.check_knobs({'clf': 'tree', 'depth': 4, 'lr': 0.5})
    assert full == {'clf': 'tree', 'kernel': None, 'depth': 4, 'lr': 0.5, 'early': False}
    bad = [({'clf': 'tree', 'depth': 9, 'lr': 0.5}, 'knobs.depth'),
           ({'clf': 'tree', 'depth': 2}, 'knobs.lr'),
           ({'clf': 'svc', 'depth': 2, 'kernel': 'rbf', 'lr': 0.5}, 'knobs.depth'),
           ({'clf': 'knn', 'lr': 0.5}, 'knobs.clf'),
           ({'clf': 'tree', 'depth': 2, 'lr': 0.5, 'early': True}, 'knobs.early'),
           ({'clf': 'tree', 'depth': 2, 'lr': 0.5, 'nope': 1}, 'knobs.nope'),
           ({'clf': 'tree', 'depth': True, 'lr': 0.5}, 'knobs.depth')]
    for given, field in bad:
        with pytest.raises(InvalidKnobsError) as e:
            space.check_knobs(given)
        assert e.value.field == field, given
    assert SearchSpace(EIGHT).check_knobs(knobs('gini', 2, False)) == knobs('gini', 2, False)
    with pytest.raises(InvalidKnobsError):
        SearchSpace(EIGHT).check_knobs(dict(knobs('gini', 2, False), seed=1))


def test_a_resumed_run_plans_its_own_phases():
    """Trials of an earlier run that reached its final phase do not put the new run in it."""
    cheap = dict(EIGHT, early=PolicyKnob('EARLY_STOP'), lr=FloatKnob(0.1, 1.0))
    past = [PastTrial(no=i, knobs=dict(knobs('gini', 2, False), lr=0.1 * i, early=False), status='COMPLETED',
                      score=0.5, meta={'phase': 'FINAL_TRAIN' if i == 4 else 'SEARCH', 'plan_started': 1.0},
                      earlier_run=True) for i in range(1, 5)]
    advisor = make_advisor(cheap, {'MODEL_TRIAL_COUNT': 12, 'TIME_HOURS': 1}, 'TPE', seed=0)
    advisor.restore(past)
    assert advisor.propose(5, now=100.0).meta['phase'] == 'SEARCH'
    assert advisor.plan.started_at == 100.0


def _planned_under_four(now):
    """Four trials of a live job whose budget was 4: three SEARCH trials and its one final trial."""
    cheap = dict(EIGHT, early=PolicyKnob('EARLY_STOP'), lr=FloatKnob(0.1, 1.0))
    return cheap, [PastTrial(no=i, knobs=dict(knobs('gini', 2, False), lr=0.1 * i, early=i < 4),
                             status='COMPLETED' if i < 4 else 'RUNNING', score=0.5 if i < 4 else None,
                             meta={'phase': 'FINAL_TRAIN' if i == 4 else 'SEARCH', 'plan_started': now})
                   for i in range(1, 5)]


def test_a_raised_trial_budget_plans_the_phases_again():
    """Raised from 4 to 8 once the final phase began (the advisor rebuilds its search from the
    recorded trials with the new budget): the trials done count toward the new plan, the search
    goes on (5 and 6), and the final phase is the new budget's last two trials."""
    cheap, past = _planned_under_four(now=1.0)
    advisor = make_advisor(cheap, {'MODEL_TRIAL_COUNT': 8}, 'TPE', seed=0)
    advisor.restore(past)
    phases = []
    for no in range(5, 9):
        proposal = advisor.propose(no, now=2.0)
        advisor.feedback(no, 0.5, 'COMPLETED')
        phases.append(proposal.meta['phase'])
    assert phases == ['SEARCH', 'SEARCH', 'FINAL_TRAIN', 'FINAL_TRAIN']


def test_a_lowered_trial_budget_starts_the_final_phase_sooner():
    cheap, past = _planned_under_four(now=1.0)
    advisor = make_advisor(cheap, {'MODEL_TRIAL_COUNT': 12}, 'TPE', seed=0)
    advisor.restore(past[:2])
    assert advisor.propose(3, now=2.0).meta['phase'] == 'SEARCH'     # 12 trials: the last 3 are final
    lowered = make_advisor(cheap, {'MODEL_TRIAL_COUNT': 4}, 'TPE', seed=0)
    lowered.restore(past[:2])
    assert lowered.propose(3, now=2.0).meta['phase'] == 'SEARCH'
    assert lowered.propose(4, now=2.0).meta['phase'] == 'FINAL_TRAIN'   # 4 trials: the last one is final


def test_a_raised_time_budget_plans_the_phases_again():
    """The final phase of 1 hour began at 45 min; raised to 2 hours, the search goes on until 90 min."""
    cheap, past = _planned_under_four(now=0.0)
    advisor = make_advisor(cheap, {'TIME_HOURS': 2.0}, 'TPE', seed=0)
    advisor.restore(past)
    assert advisor.propose(5, now=3600.0).meta['phase'] == 'SEARCH'
    assert advisor.propose(6, now=5500.0).meta['phase'] == 'FINAL_TRAIN'
