"""Objectives, constraints, the Pareto front and the deploy rule (``singa.objectives``), and the
multi-objective search they drive (``OptunaAdvisor`` with several directions)."""
import itertools
import random

import pytest

from singa.advisor import PastTrial, check_objectives, make_advisor
from singa.errors import ConflictError, InvalidModelError, InvalidRequestError
from singa.model import FloatKnob, IntegerKnob
from singa.objectives import (Constraint, Direction, Objective, SelectRule, dominates, evaluation_metrics,
                              feasible, parse_constraints, parse_objectives, pareto_front, trial_values)

ACC_LAT = (Objective('accuracy', Direction.MAXIMIZE), Objective('predict_latency_ms', Direction.MINIMIZE))


def brute_front(values, objectives, constraints=()):
    """The front by its definition, pair by pair, for checking ``pareto_front``."""
    points = [(i, [v[o.name] for o in objectives]) for i, v in enumerate(values)
              if all(o.name in v for o in objectives) and feasible(v, constraints)]
    front = []
    for i, a in points:
        beaten = False
        for _, b in points:
            no_worse = all((y >= x) if o.direction == 'maximize' else (y <= x) for o, x, y in zip(objectives, a, b))
            if no_worse and b != a:
                beaten = True
        if not beaten:
            front.append(i)
    return front


def test_dominance_respects_directions():
    assert dominates([0.9, 1.0], [0.8, 2.0], ACC_LAT)
    assert dominates([0.9, 1.0], [0.9, 2.0], ACC_LAT)
    assert not dominates([0.9, 1.0], [0.9, 1.0], ACC_LAT)          # equal: neither dominates
    assert not dominates([0.95, 3.0], [0.9, 1.0], ACC_LAT)          # a trade-off


def test_front_matches_the_definition_on_random_points():
    rng = random.Random(7)
    for _ in range(200):
        values = [{'accuracy': rng.choice([0.5, 0.6, 0.7, 0.8]), 'predict_latency_ms': rng.choice([1, 2, 3, 4])}
                  for _ in range(rng.randint(0, 12))]
        assert pareto_front(values, ACC_LAT) == brute_front(values, ACC_LAT)
        limit = (Constraint('predict_latency_ms', max=2),)
        assert pareto_front(values, ACC_LAT, limit) == brute_front(values, ACC_LAT, limit)


def test_front_leaves_out_trials_missing_an_objective_or_breaking_a_constraint():
    values = [{'accuracy': 0.9, 'predict_latency_ms': 6.0}, {'accuracy': 0.8, 'predict_latency_ms': 2.0},
              {'accuracy': 0.99}, {'accuracy': 0.7, 'predict_latency_ms': 1.0}]
    assert pareto_front(values, ACC_LAT) == [0, 1, 3]
    assert pareto_front(values, ACC_LAT, (Constraint('predict_latency_ms', max=5),)) == [1, 3]
    assert pareto_front(values, ACC_LAT, (Constraint('predict_latency_ms', min=1.5, max=5),)) == [1]
    assert pareto_front(values, ACC_LAT[:1], (Constraint('predict_latency_ms'),)) == [0]   # measured, no bounds


def test_select_rule_picks_the_best_within_bounds_and_breaks_ties_toward_the_bound():
    values = [{'accuracy': 0.95, 'predict_latency_ms': 7.0}, {'accuracy': 0.9, 'predict_latency_ms': 4.0},
              {'accuracy': 0.9, 'predict_latency_ms': 3.0}, {'accuracy': 0.8, 'predict_latency_ms': 0.5}]
    rule = SelectRule.parse({'objective': 'accuracy', 'where': [{'name': 'predict_latency_ms', 'max': 5}]})
    assert rule.pick(values) == 2     # as accurate as 1, and faster
    tied = [values[2], values[1], values[3]]      # 0.9 at 3 ms, 0.9 at 4 ms
    assert SelectRule.parse({'objective': 'accuracy',
                             'where': [{'name': 'predict_latency_ms', 'min': 1}]}).pick(tied) == 1
    assert SelectRule.parse({'objective': 'accuracy',
                             'where': [{'name': 'predict_latency_ms', 'min': 1, 'max': 5}]}).pick(tied) == 0
    assert SelectRule.parse({'objective': 'accuracy'}).pick(values) == 0
    assert SelectRule.parse({'objective': 'predict_latency_ms', 'direction': 'minimize'}).pick(values) == 3
    assert SelectRule.parse({'objective': 'accuracy',
                             'where': [{'name': 'predict_latency_ms', 'max': 0.1}]}).pick(values) is None
    assert rule.to_dict() == {'objective': 'accuracy', 'direction': 'maximize',
                              'where': [{'name': 'predict_latency_ms', 'max': 5}]}


@pytest.mark.parametrize('raw, error', [({}, InvalidRequestError), ({'objective': 'bad name'}, InvalidRequestError),
                                        ({'objective': 'a', 'direction': 'up'}, InvalidRequestError),
                                        ({'objective': 'a', 'where': [{'name': 'b', 'min': 2, 'max': 1}]},
                                         ConflictError)])
def test_select_rule_refuses_what_is_not_a_rule_naming_select(raw, error):
    with pytest.raises(error) as e:
        SelectRule.parse(raw)
    assert e.value.field == 'select'


@pytest.mark.parametrize('raw, error', [([{'name': 'a', 'direction': 'up'}], InvalidRequestError),
                                        ([{'name': '1a'}], InvalidRequestError),
                                        ([{'name': 'a'}, {'name': 'a'}], ConflictError),
                                        ([{'name': f'm{i}'} for i in range(5)], InvalidRequestError)])
def test_objectives_refused_name_the_field(raw, error):
    with pytest.raises(error) as e:
        parse_objectives(raw)
    assert e.value.field == 'objectives'


@pytest.mark.parametrize('raw, error', [([{'name': 'a', 'min': 2, 'max': 1}], ConflictError),
                                        ([{'name': '', 'max': 1}], InvalidRequestError)])
def test_constraints_refused_name_the_field(raw, error):
    with pytest.raises(error) as e:
        parse_constraints(raw)
    assert e.value.field == 'constraints'


def test_several_objectives_need_a_multi_objective_sampler_and_no_pruner():
    two = [o.to_dict() for o in ACC_LAT]
    check_objectives(two, None, 'TPE', 'NONE')
    with pytest.raises(ConflictError, match='one objective only') as e:
        check_objectives(two, None, 'CMAES', 'NONE')
    assert e.value.field == 'advisor'
    with pytest.raises(ConflictError, match='pruned') as e:
        check_objectives(two, None, 'AUTO', 'MEDIAN')
    assert e.value.field == 'pruner'
    check_objectives(None, None, 'CMAES', 'MEDIAN')     # one objective: anything goes


def test_evaluate_may_return_one_number_or_named_metrics():
    assert evaluation_metrics(0.5) == (0.5, {})
    assert evaluation_metrics({'accuracy': 0.9, 'f1': 0.8}) == (0.9, {'accuracy': 0.9, 'f1': 0.8})
    assert evaluation_metrics({'f1': 0.8, 'score': 0.7}) == (0.7, {'f1': 0.8, 'score': 0.7})
    for bad in ({}, {'a': float('nan')}, {'a': 'x'}, {'predict_latency_ms': 1.0}, {'bad name': 1.0}, 'x', True):
        with pytest.raises(InvalidModelError):
            evaluation_metrics(bad)
    assert trial_values(0.7, {'f1': 0.8}, 100) == {'f1': 0.8, 'score': 0.7, 'params_bytes': 100.0}


SPACE = {'x': FloatKnob(0.0, 1.0), 'n': IntegerKnob(1, 50)}


def fake_metrics(knobs):
    """A trade-off: accuracy rises with x and n, latency with n."""
    return {'accuracy': knobs['x'] * 0.5 + knobs['n'] / 100, 'predict_latency_ms': knobs['n'] / 5}


def test_multi_objective_search_runs_mo_tpe_and_restores_with_constraints():
    objectives = [o.to_dict() for o in ACC_LAT]
    constraints = [{'name': 'predict_latency_ms', 'max': 5}]
    advisor = make_advisor(SPACE, {'MODEL_TRIAL_COUNT': 30}, 'TPE', seed=1, objectives=objectives,
                           constraints=constraints)
    assert advisor.multi_objective and len(advisor.study.directions) == 2
    past = []
    for no in range(1, 31):
        proposal = advisor.propose(no)
        metrics = fake_metrics(proposal.knobs)
        if no == 5:
            metrics = {'accuracy': 0.5}           # a missing objective: told failed, not a crash
        advisor.feedback(no, metrics['accuracy'], 'COMPLETED', metrics=metrics)
        past.append(PastTrial(no=no, knobs=proposal.knobs, status='COMPLETED', score=metrics['accuracy'],
                              metrics=metrics))
    states = [t.state.name for t in advisor.study.trials if t.number < 40]
    assert states.count('COMPLETE') >= 28
    feasible_late = [fake_metrics(p.knobs)['predict_latency_ms'] <= 5 for p in past[15:]]
    assert sum(feasible_late) >= len(feasible_late) // 2   # the constraint steers the sampler
    again = make_advisor(SPACE, {'MODEL_TRIAL_COUNT': 30}, 'TPE', seed=1, objectives=objectives,
                         constraints=constraints)
    again.restore(past)
    assert len(again.study.best_trials) >= 1
    assert all(list(t.constraints.values()) == [0.0] for t in again.study.best_trials)
    assert again.propose(31) is not None


def test_single_named_objective_minimized():
    advisor = make_advisor(SPACE, {'MODEL_TRIAL_COUNT': 8}, 'RANDOM', seed=3,
                           objectives=[{'name': 'predict_latency_ms', 'direction': 'minimize'}])
    for no in itertools.count(1):
        proposal = advisor.propose(no)
        if no > 8:
            break
        metrics = fake_metrics(proposal.knobs)
        advisor.feedback(no, metrics['accuracy'], 'COMPLETED', metrics=metrics)
    best = advisor.study.best_trial
    assert best.values[0] == min(t.values[0] for t in advisor.study.trials if t.values)
