"""``OptunaAdvisor``: ask/tell on an in-memory Optuna study (rebuilt from recorded trials on
restart; Optuna's RDB storage is too slow for the hot path), and ``FixedAdvisor``."""
import functools
import math
import random
import time
from typing import Dict, List, Optional

import optuna
from optuna.trial import TrialState, create_trial

from singa.advisor.base import BaseAdvisor, PastTrial, Proposal
from singa.advisor.plan import FINAL_TRAIN, SEARCH, TrialPlan, TrialRecord
from singa.advisor.space import SearchSpace, forbids_repeats
from singa.advisor.tpe import TiedScoresTPESampler, tpe_sampler
from singa.constants import AdvisorType, PrunerType, TrialStatus
from singa.errors import InvalidRequestError
from singa.model.knob import policies_of
from singa.objectives import objective_vector, parse_constraints, parse_objectives, trial_values
from singa.ranking import DEFAULT_TIE_TOLERANCE

optuna.logging.set_verbosity(optuna.logging.WARNING)

MAX_RESAMPLES = 8          # draws of the sampler before a repeat is replaced by a uniform draw
MAX_RANDOM_DRAWS = 1000    # uniform draws in a space too large to list before it counts as exhausted

_TELL_STATE = {TrialStatus.PRUNED.value: TrialState.PRUNED, TrialStatus.ERRORED.value: TrialState.FAIL,
               TrialStatus.STOPPED.value: TrialState.FAIL}


def make_sampler(advisor_type: str, seed: Optional[int], trial_count: Optional[int], conditional: bool,
                 tpe_class=TiedScoresTPESampler):
    """The Optuna sampler for an advisor type; fewer random start-up trials on small budgets. TPE
    is multi-objective (MO-TPE) on a study of several directions, weighs the constraints set on
    trials (``Trial.set_constraint``) when it splits them into good and bad, and keeps trials tied
    at that split together (``singa.advisor.tpe``; the benchmark passes Optuna's ``TPESampler`` as
    ``tpe_class`` to measure that rule)."""
    startup = 10 if not trial_count else max(3, min(10, trial_count // 4))
    if advisor_type == AdvisorType.TPE:
        return tpe_sampler(seed, startup, conditional, tpe_class)
    if advisor_type in (AdvisorType.RANDOM, AdvisorType.GRID):   # GRID enqueues its own points
        return optuna.samplers.RandomSampler(seed=seed)
    if advisor_type == AdvisorType.CMAES:
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup,
                                            warn_independent_sampling=False)
    if advisor_type == AdvisorType.GP:
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)
    raise InvalidRequestError(f'no sampler for advisor type {advisor_type!r}')


def make_pruner(pruner: str):
    if pruner == PrunerType.MEDIAN:
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if pruner == PrunerType.SUCCESSIVE_HALVING:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if pruner == PrunerType.HYPERBAND:
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource='auto', reduction_factor=3)
    return optuna.pruners.NopPruner()


class OptunaAdvisor(BaseAdvisor):
    """TPE, random, grid, CMA-ES or GP search with optional pruning; see ``plan`` for phases and
    policies. Built by ``make_advisor``, which checks that the advisor type fits the space.

    In a finite space (``SearchSpace.is_finite``) and unless ``allow_repeats``, no configuration
    (the values of its active knobs) is proposed twice, whatever became of the trial that had it
    (running, completed, failed, or restored from the database): a sample that repeats one is
    dropped (told FAIL, which the samplers ignore) and drawn again, and after ``MAX_RESAMPLES``
    such draws an unproposed configuration is drawn uniformly. Once every configuration has been
    proposed, ``propose`` returns None. A final-training trial that retrains a searched
    configuration in full (see ``plan``) is not a repeat: that is its purpose. ``tie_tolerance``:
    the job's, which the plan's notion of best follows (``singa.ranking``).
    """

    def __init__(self, knob_config: dict, budget: Optional[dict], advisor_type: str = AdvisorType.TPE,
                 pruner: str = PrunerType.NONE, seed: Optional[int] = None, allow_repeats: bool = False,
                 objectives: Optional[list] = None, constraints: Optional[list] = None,
                 tie_tolerance: float = DEFAULT_TIE_TOLERANCE):
        super().__init__(knob_config, budget)
        self.advisor_type, self.pruner_type = str(advisor_type), str(pruner)
        self.objectives, self.constraints = parse_objectives(objectives), parse_constraints(constraints)
        self.space = SearchSpace(knob_config)
        self.no_repeats = forbids_repeats(self.space, allow_repeats)
        self.plan = TrialPlan(policies_of(knob_config), self.trial_count_budget, self.time_budget_hours, seed,
                              tie_tolerance, self.constraints)
        self.study = optuna.create_study(
            directions=[o.direction.value for o in self.objectives],
            sampler=make_sampler(self.advisor_type, seed, self.trial_count_budget, self.space.is_conditional),
            pruner=make_pruner(self.pruner_type))
        self._live: Dict[int, optuna.trial.Trial] = {}   # trial_no -> asked, untold Optuna trial
        self._fallback_rng = random.Random(seed)
        self._grid: Optional[List[dict]] = None
        if self.advisor_type == AdvisorType.GRID:
            self._grid = self.space.enumerate_grid(self.plan.policy_values(SEARCH, None))
            self.plan.rng.shuffle(self._grid)

    @property
    def next_trial_no(self) -> int:
        return max(self.plan.records, default=0) + 1

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def _told_values(self, score: Optional[float], metrics: Optional[dict]) -> Optional[list]:
        """What the study is told of a completed trial: its objectives' values (None if one is missing)."""
        return objective_vector(trial_values(_finite(score), metrics, None), self.objectives)

    def _constrain(self, trial, score: Optional[float], metrics: Optional[dict]):
        """Set on an Optuna trial (live or frozen) how far it is outside each constraint (0: it meets
        it), which the samplers read before it is told; returns the trial."""
        values = trial_values(_finite(score), metrics, None)
        for i, constraint in enumerate(self.constraints):
            trial.set_constraint(f'{i}:{constraint.describe()}', constraint.violation(values))
        return trial

    # Restart.
    def restore(self, past: List[PastTrial]) -> None:
        for trial in sorted(past, key=lambda t: t.no):
            meta = trial.meta or {}
            record = TrialRecord(no=trial.no, knobs=dict(trial.knobs), key=self.space.config_key(trial.knobs),
                                 phase=meta.get('phase', SEARCH), status=str(trial.status),
                                 score=_finite(trial.score), params_saved=bool(trial.params_saved),
                                 retrains=meta.get('retrains'), intermediate=list(trial.intermediate or []),
                                 metrics=dict(trial.metrics or {}), recorded_no=trial.recorded_no)
            if 'plan_started' in meta and not trial.earlier_run:
                started = float(meta['plan_started'])
                self.plan.started_at = min(started, self.plan.started_at or started)
            if meta.get('sampled', True) and record.retrains is None:
                self._restore_into_study(record)
            self.plan.add(record)   # phases follow this run's budget, not the restored trials' (see plan)

    def warm_start(self, known: List[PastTrial]) -> int:
        told = 0
        for trial in known:
            values = self._told_values(trial.score, trial.metrics)
            found = self.space.to_optuna_params(trial.knobs)
            if trial.status != TrialStatus.COMPLETED or values is None or found is None:
                continue
            params, dists = found
            self.study.add_trial(self._constrain(create_trial(params=params, distributions=dists, values=values,
                                                              state=TrialState.COMPLETE), trial.score, trial.metrics))
            if self.no_repeats:
                self._take_from_grid(params)
                self.plan.proposed_keys.add(self.space.config_key(trial.knobs))
            told += 1
        return told

    def _take_from_grid(self, params: dict) -> None:
        if self._grid is not None:
            self._grid = [g for g in self._grid if g != params]

    def _restore_into_study(self, record: TrialRecord) -> None:
        found = self.space.to_optuna_params(record.knobs)
        if found is None:
            return
        params, dists = found
        self._take_from_grid(params)
        intermediate = {} if self.multi_objective else {
            int(s): float(v) for s, v in record.intermediate if _finite(v) is not None}
        values = self._told_values(record.score, record.metrics)
        if record.status == TrialStatus.COMPLETED and values is not None:
            state = TrialState.COMPLETE
        elif record.ended:
            state, values = _TELL_STATE.get(record.status, TrialState.FAIL), None
        else:
            state, values = TrialState.RUNNING, None
        frozen = create_trial(params=params, distributions=dists, values=values, state=state,
                              intermediate_values=intermediate)
        if state == TrialState.COMPLETE:
            self._constrain(frozen, record.score, record.metrics)
        self.study.add_trial(frozen)
        record.optuna_number = len(self.study.get_trials(deepcopy=False)) - 1
        if state == TrialState.RUNNING:
            frozen = self.study.get_trials(deepcopy=False)[record.optuna_number]
            self._live[record.no] = optuna.trial.Trial(self.study, frozen._trial_id)

    # The tuning loop.
    def propose(self, trial_no: int, now: Optional[float] = None) -> Optional[Proposal]:
        now = time.time() if now is None else now
        self.plan.start(now)
        phase = self.plan.phase_for(now)
        retrains = self.plan.final_candidate() if phase == FINAL_TRAIN else None
        shared = self.plan.shared_source(phase, retrains, now)
        asked = None
        if retrains is None:
            asked = self._ask(self.plan.policy_values(phase, shared))
            if asked is None and phase == SEARCH and self.plan.split:
                phase, retrains = FINAL_TRAIN, self.plan.final_candidate()
                shared = self.plan.shared_source(phase, retrains, now)
            if asked is None and retrains is None:
                return None
        trial, knobs = asked if asked is not None else (None, self._retrained_knobs(retrains, phase, shared))
        return self._proposed(trial_no, trial, knobs, phase, retrains, shared)

    def propose_given(self, trial_no: int, knobs: dict, now: Optional[float] = None) -> Optional[Proposal]:
        found = self.space.to_optuna_params(knobs)
        if found is None:
            raise InvalidRequestError('the knobs do not fit the space', field='knobs')
        if self.no_repeats and self.space.config_key(knobs) in self.plan.proposed_keys:
            return None
        now = time.time() if now is None else now
        self.plan.start(now)
        phase = self.plan.phase_for(now)
        self._take_from_grid(found[0])
        self.study.enqueue_trial(found[0])
        trial = self.study.ask()
        return self._proposed(trial_no, trial, self.space.sample(trial, self.plan.policy_values(phase, None)),
                              phase, None, None)

    def _proposed(self, trial_no: int, trial, knobs: dict, phase: str, retrains: Optional[TrialRecord],
                  shared: Optional[int]) -> Proposal:
        record = TrialRecord(no=trial_no, knobs=knobs, key=self.space.config_key(knobs), phase=phase,
                             retrains=retrains.no if retrains else None,
                             optuna_number=trial.number if trial is not None else None)
        self.plan.add(record)
        if trial is not None:
            self._live[trial_no] = trial
        meta = {'phase': phase, 'advisor': self.advisor_type, 'sampled': trial is not None,
                'plan_started': self.plan.started_at}
        if record.retrains is not None:
            meta['retrains'] = record.retrains
        return Proposal(trial_no=trial_no, knobs=knobs, meta=meta, shared_params_trial_no=shared)

    def _retrained_knobs(self, retrains: TrialRecord, phase: str, shared: Optional[int]) -> dict:
        policy_values = self.plan.policy_values(phase, shared)
        knobs = dict(retrains.knobs)
        for policy, name in self.space.policies.items():
            if knobs.get(name) is not None:
                knobs[name] = policy_values[policy]
        return knobs

    def _ask(self, policy_values: dict) -> Optional[tuple]:
        """``(Optuna trial, its knobs)`` for a new configuration, or None when none is left."""
        if self._grid is not None:
            if not self._grid:
                return None
            self.study.enqueue_trial(self._grid.pop(0))
        elif self.no_repeats and self._finite_points is not None \
                and len(self.plan.proposed_keys) >= len(self._finite_points):
            return None
        for _ in range(MAX_RESAMPLES):
            trial = self.study.ask()
            knobs = self.space.sample(trial, policy_values)
            if not self.no_repeats or self.space.config_key(knobs) not in self.plan.proposed_keys:
                return trial, knobs
            self.study.tell(trial.number, state=TrialState.FAIL)   # a repeat: never run
        params = self._unproposed_params()
        if params is None:
            return None
        self.study.enqueue_trial(params)
        trial = self.study.ask()
        return trial, self.space.sample(trial, policy_values)

    @functools.cached_property
    def _finite_points(self) -> Optional[List[tuple]]:
        """``(config key, Optuna params)`` of every configuration of the space, or None when it has
        more than ``MAX_GRID_SIZE`` (or is infinite)."""
        points = self.space.enumerate_points({})
        return None if points is None else [(self.space.config_key(values), params) for values, params in points]

    def _unproposed_params(self) -> Optional[dict]:
        """Optuna params of a configuration never proposed, drawn uniformly; None if there is none.
        A space too large to list has so many that random draws find one at once."""
        taken = self.plan.proposed_keys
        if self._finite_points is None:
            for _ in range(MAX_RANDOM_DRAWS):
                values, params = self.space.random_point(self._fallback_rng)
                if self.space.config_key(values) not in taken:
                    return params
            return None
        left = [params for key, params in self._finite_points if key not in taken]
        return self._fallback_rng.choice(left) if left else None

    def report(self, trial_no: int, step: int, score: float) -> bool:
        record = self._record(trial_no)
        score = _finite(score)
        if record.ended or score is None:
            return False
        record.intermediate.append((int(step), score))
        trial = self._live.get(trial_no)
        if trial is None or record.phase == FINAL_TRAIN or self.pruner_type == PrunerType.NONE \
                or self.multi_objective:
            return False
        frozen = self.study.get_trials(deepcopy=False)[trial.number]
        if int(step) not in frozen.intermediate_values:
            trial.report(score, int(step))
        return bool(trial.should_prune())

    def feedback(self, trial_no: int, score: Optional[float], status: str, params_saved: bool = True,
                 metrics: Optional[dict] = None, recorded_no: Optional[int] = None) -> None:
        record = self._record(trial_no)
        if record.ended:
            return
        status = TrialStatus.parse(status, 'status').value
        score = _finite(score)
        if status == TrialStatus.COMPLETED and score is None:
            status = TrialStatus.ERRORED.value
        if status == TrialStatus.PRUNED and score is None and record.intermediate:
            score = record.intermediate[-1][1]
        record.status, record.score, record.metrics = status, score, dict(metrics or {})
        record.recorded_no = recorded_no
        record.params_saved = bool(params_saved) and status in (TrialStatus.COMPLETED, TrialStatus.PRUNED)
        trial = self._live.pop(trial_no, None)
        values = self._told_values(score, metrics) if status == TrialStatus.COMPLETED else None
        if trial is not None:
            if values is not None:
                self.study.tell(self._constrain(trial, score, metrics), values)
            elif status == TrialStatus.COMPLETED:       # an objective's value is missing
                self.study.tell(trial.number, state=TrialState.FAIL)
            else:
                self.study.tell(trial.number, state=_TELL_STATE[status])

    def _record(self, trial_no: int) -> TrialRecord:
        record = self.plan.records.get(trial_no)
        if record is None:
            raise InvalidRequestError(f'trial {trial_no} was never proposed by this advisor',
                                      resource='trial', id=trial_no)
        return record

    def best_trial(self) -> Optional[TrialRecord]:
        return self.plan.best()


class FixedAdvisor(BaseAdvisor):
    """For spaces with nothing to search (only fixed and policy knobs): exactly one full trial."""

    def __init__(self, knob_config: dict, budget: Optional[dict] = None):
        super().__init__(knob_config, budget)
        self.space = SearchSpace(knob_config)
        self.records: Dict[int, TrialRecord] = {}

    @property
    def next_trial_no(self) -> int:
        return max(self.records, default=0) + 1

    def restore(self, past: List[PastTrial]) -> None:
        for t in past:
            self.records[t.no] = TrialRecord(no=t.no, knobs=t.knobs, key=(), status=str(t.status),
                                             score=_finite(t.score))

    def propose(self, trial_no: int, now: Optional[float] = None) -> Optional[Proposal]:
        if self.records:
            return None
        knobs = self.space.sample(None, {})
        self.records[trial_no] = TrialRecord(no=trial_no, knobs=knobs, key=())
        return Proposal(trial_no=trial_no, knobs=knobs, meta={'phase': SEARCH, 'advisor': 'FIXED'})

    def warm_start(self, known: List[PastTrial]) -> int:
        """A completed trial of the one configuration there is: nothing is left to propose."""
        told = [t for t in known if t.status == TrialStatus.COMPLETED and _finite(t.score) is not None]
        if told and not self.records:
            self.records[0] = TrialRecord(no=0, knobs=dict(told[0].knobs), key=(), status=TrialStatus.COMPLETED.value,
                                          score=_finite(told[0].score))
        return len(told)

    def propose_given(self, trial_no: int, knobs: dict, now: Optional[float] = None) -> Optional[Proposal]:
        return self.propose(trial_no, now)

    def report(self, trial_no: int, step: int, score: float) -> bool:
        return False

    def feedback(self, trial_no: int, score: Optional[float], status: str, params_saved: bool = True,
                 metrics: Optional[dict] = None, recorded_no: Optional[int] = None) -> None:
        record = self.records.get(trial_no)
        if record is None:
            raise InvalidRequestError(f'trial {trial_no} was never proposed by this advisor',
                                      resource='trial', id=trial_no)
        record.status, record.score = TrialStatus.parse(status, 'status').value, _finite(score)


def _finite(value) -> Optional[float]:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
