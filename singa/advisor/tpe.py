"""The TPE sampler the ``TPE`` advisor uses: Optuna's ``TPESampler`` with a tie rule on the split of
trials into good and bad.

TPE proposes where the density of good trials (the best ``gamma(n)``) is high against that of the
others. Optuna sorts the trials by score and cuts the list at ``gamma(n)``; when many trials share
the score at the cut, which of them fall on the good side is an accident of their trial numbers. A
plateau, say linear kernels whose ``C`` barely matters, all scoring 0.9833, then fills the good set
by itself and the sampler keeps proposing more of it: every new plateau trial ties again and
reinforces both sides. Here the tied trials at the cut are not split: they all count as bad, since
the sampler has already seen what that score's region gives, unless they are the best score there
is, in which case the earliest of them stands for them all in the good set. Trials tied above the
cut are untouched, and so are studies of several objectives (MO-TPE ranks trials by
non-domination, not by one score) and trials that violate a constraint.
"""
import warnings
from typing import List, Optional, Type

import optuna
from optuna.samplers import TPESampler
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState


class TiedScoresTPESampler(TPESampler):
    """``TPESampler`` that keeps trials tied at the good/bad cut together (see the module)."""

    def _build_parzen_estimator(self, study: Study, search_space: dict, trials: List[FrozenTrial],
                                handle_below: bool):
        # Optuna builds the good ("below") estimator and then the bad one from the split it made;
        # both calls see the same study, so each recomputes the same moves on its own.
        if len(study.directions) == 1:
            trials = _untie(study, trials, handle_below)
        return super()._build_parzen_estimator(study, search_space, trials, handle_below)


def _untie(study: Study, trials: List[FrozenTrial], below: bool) -> List[FrozenTrial]:
    """``trials`` (Optuna's good set if ``below``, else its bad set) with the trials tied at the
    cut moved from the good set to the bad one."""
    feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if all(v <= 0 for v in t.constraints.values())]
    given = {t.number for t in trials}
    good = [t for t in feasible if (t.number in given) == below]
    if not good:
        return trials
    sign = -1.0 if study.direction == StudyDirection.MAXIMIZE else 1.0
    good.sort(key=lambda t: (sign * t.value, t.number))
    cut = good[-1].value
    good_numbers = {t.number for t in good}
    if not any(t.value == cut for t in feasible if t.number not in good_numbers):
        return trials        # the cut falls between two scores: nothing is tied across it
    tied = [t for t in good if t.value == cut]
    moved = tied[1:] if len(tied) == len(good) else tied
    if below:
        moved_numbers = {t.number for t in moved}
        return [t for t in trials if t.number not in moved_numbers]
    return sorted(trials + moved, key=lambda t: t.number)


def tpe_sampler(seed: Optional[int], n_startup_trials: int, group: bool,
                sampler_class: Type[TPESampler] = TiedScoresTPESampler) -> TPESampler:
    """The ``TPE`` advisor's sampler: multivariate, with the group-decomposed search space on a
    conditional space, and the constant liar for trials still running."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', optuna.exceptions.ExperimentalWarning)
        return sampler_class(seed=seed, n_startup_trials=n_startup_trials, multivariate=True, group=group,
                             constant_liar=True)
