"""Hyperparameter importance: how much of the score's variance each knob of a template explains.

``knob_importances`` rebuilds the template's finished trials as an in-memory Optuna study and asks
Optuna's fANOVA evaluator (a random forest over the knobs, Hutter et al. 2014) for normalised
importances that sum to 1. Only searched knobs count (fixed and policy knobs never vary); an
``ArchKnob`` ``a`` is assessed per position, ``a[0]``, ``a[1]``, ... A knob that is inactive in
some trials (a conditional knob) is left out, as Optuna's evaluators need every trial to have it.
"""
import math
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Optional

import optuna
from optuna.trial import create_trial

from singa.advisor.space import SearchSpace
from singa.model.knob import deserialize_knob_config

optuna.logging.set_verbosity(optuna.logging.WARNING)

MIN_TRIALS = 3          # fewer finished trials say nothing about importance
# The forest's cost grows faster than the trial count: with these limits an answer takes under a
# second on one core (about 1.3 s for 1000 trials at depth 8, 7 s at Optuna's default depth 64).
MAX_TRIALS = 500        # the newest ones
FOREST_TREES = 32
FOREST_DEPTH = 8


@dataclass(frozen=True)
class KnobImportance:
    importances: dict           # {parameter name: share of the variance in [0, 1]}, largest first
    trials_used: int
    not_assessed: list = field(default_factory=list)   # searched parameters left out (conditional ones)
    note: Optional[str] = None  # why nothing could be assessed, when ``importances`` is empty
    method: str = 'fANOVA'


def knob_importances(knob_config: dict, trials: Iterable[tuple[dict, float]], seed: int = 0) -> KnobImportance:
    """Importance of each searched knob of ``knob_config`` (``{name: knob}`` or its serialized
    form) from ``trials``: ``(knobs, score)`` pairs of finished trials, oldest first. Trials whose
    knobs no longer fit the space, or whose score is not a finite number, are ignored."""
    if isinstance(knob_config, dict) and isinstance(knob_config.get('knobs'), list):
        knob_config = deserialize_knob_config(knob_config)
    space = SearchSpace(knob_config)
    frozen = []
    for knobs, score in list(trials)[-MAX_TRIALS:]:
        if score is None or not math.isfinite(score):
            continue
        fitted = space.to_optuna_params(knobs)
        if fitted is not None:
            frozen.append(create_trial(params=fitted[0], distributions=fitted[1], value=float(score)))
    searched = sorted({name for n in space.searchable for name in space.distribution(n)})
    if not searched:
        return KnobImportance({}, len(frozen), note='this template has no knob to search')
    if len(frozen) < MIN_TRIALS:
        return KnobImportance({}, len(frozen), note=f'needs at least {MIN_TRIALS} finished trials with a score')
    common = set(searched)
    for trial in frozen:
        common &= set(trial.params)
    # A parameter that took one value in every trial explains nothing and cannot be assessed.
    varied = sorted(n for n in common if len({repr(t.params[n]) for t in frozen}) > 1)
    skipped = [n for n in searched if n not in varied]
    if not varied:
        return KnobImportance({}, len(frozen), skipped, note='no knob took more than one value in every trial')
    if len({t.value for t in frozen}) == 1:
        return KnobImportance({n: 0.0 for n in varied}, len(frozen), skipped,
                              note='every trial had the same score')
    # Imported here: optuna.importance loads scikit-learn (about a second), which the admin
    # should not pay for at start-up.
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    study = optuna.create_study(direction='maximize')
    study.add_trials(frozen)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        found = get_param_importances(study, params=varied,
                                      evaluator=FanovaImportanceEvaluator(
                                          n_trees=FOREST_TREES, max_depth=FOREST_DEPTH, seed=seed))
    values = {name: (float(v) if math.isfinite(v) else 0.0) for name, v in found.items()}
    return KnobImportance(dict(sorted(values.items(), key=lambda kv: -kv[1])), len(frozen), skipped)
