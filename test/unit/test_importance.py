"""Hyperparameter importance (``singa.advisor.importance``) on synthetic trials whose answer is known."""
import random

from singa.advisor.importance import MIN_TRIALS, knob_importances
from singa.model.knob import (ArchKnob, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob,
                              serialize_knob_config)

SPACE = {'depth': IntegerKnob(2, 24), 'lr': FloatKnob(1e-4, 1.0, is_exp=True), 'kind': CategoricalKnob(['a', 'b']),
         'seed': FixedKnob(0), 'quick': PolicyKnob('QUICK_EVAL')}


def _trials(n, score, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        knobs = {'depth': rng.randint(2, 24), 'lr': 10 ** rng.uniform(-4, 0), 'kind': rng.choice('ab'), 'seed': 0,
                 'quick': False}
        out.append((knobs, score(knobs, rng)))
    return out


def test_the_knob_that_drives_the_score_explains_most_of_it():
    result = knob_importances(SPACE, _trials(60, lambda k, rng: k['depth'] / 24 + rng.uniform(0, 0.02)))
    assert list(result.importances)[0] == 'depth' and result.importances['depth'] > 0.8
    assert set(result.importances) == {'depth', 'lr', 'kind'}        # fixed and policy knobs never count
    assert abs(sum(result.importances.values()) - 1) < 1e-6
    assert result.trials_used == 60 and result.note is None and result.method == 'fANOVA'


def test_the_serialized_space_gives_the_same_answer_and_the_same_seed_the_same_numbers():
    trials = _trials(40, lambda k, rng: (k['kind'] == 'a') + rng.uniform(0, 0.1))
    first = knob_importances(SPACE, trials)
    assert knob_importances(serialize_knob_config(SPACE), trials).importances == first.importances
    assert list(first.importances)[0] == 'kind'


def test_too_few_trials_unscored_and_foreign_trials_are_explained_not_guessed():
    trials = _trials(MIN_TRIALS - 1, lambda k, rng: 0.5)
    trials += [({'depth': 99, 'lr': 0.1, 'kind': 'a'}, 0.9),            # outside the space
               ({'depth': 3, 'lr': 0.1, 'kind': 'a'}, None),            # no score
               ({'depth': 4, 'lr': 0.1, 'kind': 'b'}, float('nan'))]
    result = knob_importances(SPACE, trials)
    assert result.importances == {} and result.trials_used == MIN_TRIALS - 1
    assert result.note == f'needs at least {MIN_TRIALS} finished trials with a score'
    assert knob_importances({'seed': FixedKnob(1)}, []).note == 'this template has no knob to search'


def test_equal_scores_give_zero_importance_with_a_note():
    result = knob_importances(SPACE, _trials(10, lambda k, rng: 0.7))
    assert result.importances == {'depth': 0.0, 'lr': 0.0, 'kind': 0.0}
    assert result.note == 'every trial had the same score'


def test_conditional_knobs_are_left_out_and_arch_knobs_assessed_per_position():
    space = {'kernel': CategoricalKnob(['rbf', 'linear']),
             'gamma': FloatKnob(1e-3, 1.0, is_exp=True, condition={'kernel': ['rbf']}),
             'arch': ArchKnob([[8, 16, 32], ['relu', 'tanh']])}
    rng = random.Random(3)
    trials = []
    for _ in range(40):
        kernel = rng.choice(['rbf', 'linear'])
        knobs = {'kernel': kernel, 'gamma': 10 ** rng.uniform(-3, 0) if kernel == 'rbf' else None,
                 'arch': [rng.choice([8, 16, 32]), rng.choice(['relu', 'tanh'])]}
        trials.append((knobs, knobs['arch'][0] / 32 + rng.uniform(0, 0.01)))
    result = knob_importances(space, trials)
    assert set(result.importances) == {'kernel', 'arch[0]', 'arch[1]'}
    assert list(result.importances)[0] == 'arch[0]'
    assert result.not_assessed == ['gamma']
