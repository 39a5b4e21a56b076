"""The trial plan: phases, policy values and parameter sharing, independent of the sampler.

Phases (``Proposal.meta['phase']``):

* ``SEARCH``: knobs come from the sampler.
* ``FINAL_TRAIN``: the best knobs found in the search, trained again in full, best first (best by
  ``singa.ranking``'s rule, as everywhere: among the trials meeting the job's constraints, ties
  within the job's tolerance re-ranked); when no searched configuration that meets them is left
  untrained, the sampler proposes new knobs in this phase.

A search/final split is planned only when the template declares a *cheap-search* policy
(``EARLY_STOP``, ``DOWNSCALE`` or ``QUICK_EVAL``) and the budget is bounded: with
``MODEL_TRIAL_COUNT`` = N >= 4, the last ``max(1, round(N / 4))`` trials are final; with
``TIME_HOURS`` = T, the final phase starts after 3/4 of T (whichever comes first). Without a split
every trial is a full one.

The phases are a function of the budget, the trials spent and the time, never of the phases of
trials proposed before: an advisor rebuilt with a changed budget (a live change, ``PATCH
/train_jobs/<app>/<version>``) plans them again from the new budget and the trials spent so far.
Raised after the final phase began, the search resumes until the new final phase; lowered, the
final phase comes sooner (at once, if the trials spent reach it). The trials spent are the trials
proposed or restored (``spent``), as ``MODEL_TRIAL_COUNT`` counts them: a lost trial's retry is the
same trial again, though the database gives it a number of its own.

Policy values per trial:

* ``EARLY_STOP``, ``DOWNSCALE``, ``QUICK_EVAL``: True in SEARCH trials of a split plan, else False.
* ``SHARE_PARAMS``: True exactly when ``shared_params_trial_no`` is set. A FINAL_TRAIN trial
  warm-starts from the search trial it retrains; a SEARCH trial warm-starts from the best
  completed trial with saved parameters (by the same rule: none when no such trial meets the
  constraints), except with probability ``exp(-4 * progress)`` (progress
  = share of the trial or time budget used, 1/2 when unbounded) when it trains from scratch, so
  the search keeps exploring early on.
* ``SKIP_TRAIN``: always False: no plan here evaluates parameters without training them (the knob
  is accepted so that templates written for weight-sharing advisors load and get a value).
"""
import math
import random
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from singa.constants import TrialStatus
from singa.model.knob import Policy
from singa.objectives import Constraint, feasible, trial_values
from singa.ranking import DEFAULT_TIE_TOLERANCE, rank_key

SEARCH = 'SEARCH'
FINAL_TRAIN = 'FINAL_TRAIN'
FINAL_FRACTION = 0.25
MIN_TRIALS_FOR_SPLIT = 4
CHEAP_POLICIES = (Policy.EARLY_STOP.value, Policy.DOWNSCALE.value, Policy.QUICK_EVAL.value)
ENDED = (TrialStatus.COMPLETED.value, TrialStatus.PRUNED.value, TrialStatus.ERRORED.value,
         TrialStatus.STOPPED.value)


@dataclass
class TrialRecord:
    """One trial of the search. ``no``: its number when it was proposed, what the advisor knows it by;
    ``recorded_no``: the database's number of the attempt that ran it, when that differs (a lost
    trial's retry is recorded under a number of its own), which ties are ordered by
    (``singa.ranking``, as the database orders them)."""
    no: int
    knobs: dict
    key: tuple
    phase: str = SEARCH
    status: str = TrialStatus.RUNNING.value
    score: Optional[float] = None
    params_saved: bool = False
    retrains: Optional[int] = None          # FINAL_TRAIN: the search trial whose knobs it trains
    optuna_number: Optional[int] = None     # set when the knobs came from the study
    intermediate: List[tuple] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)   # its values by name (``singa.objectives``)
    recorded_no: Optional[int] = None

    @property
    def ranked_no(self) -> int:
        """The trial number ties are ordered by: the database's."""
        return self.no if self.recorded_no is None else self.recorded_no

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def completed(self) -> bool:
        return self.status == TrialStatus.COMPLETED.value and self.score is not None


class TrialPlan:
    def __init__(self, policies: set, trial_count: Optional[int], time_hours: Optional[float],
                 seed: Optional[int], tie_tolerance: float = DEFAULT_TIE_TOLERANCE,
                 constraints: Iterable[Constraint] = ()):
        self.policies = set(policies)
        self.tie_tolerance = tie_tolerance      # the job's: which trials tie with the best (singa.ranking)
        self.constraints = tuple(constraints)   # the job's: what a trial must meet to be best
        self.trial_count = trial_count
        self.time_hours = time_hours
        self.rng = random.Random(seed)
        self.records: Dict[int, TrialRecord] = {}
        self.proposed_keys: set = set()         # config keys of every trial proposed or restored
        self.started_at: Optional[float] = None
        self.final_started = False
        has_cheap = bool(self.policies & set(CHEAP_POLICIES))
        self.split = has_cheap and ((trial_count or 0) >= MIN_TRIALS_FOR_SPLIT or time_hours is not None)
        self.final_count = max(1, round(trial_count * FINAL_FRACTION)) if self.split and trial_count else 0

    # Phases.
    def start(self, now: float) -> None:
        if self.started_at is None:
            self.started_at = now

    @property
    def spent(self) -> int:
        """The trials of the budget proposed or restored so far (a retry is not another)."""
        return len(self.records)

    def phase_for(self, now: float) -> str:
        """The phase of the next trial proposed."""
        if not self.split:
            return SEARCH
        if not self.final_started:
            by_count = self.trial_count is not None and self.spent >= self.trial_count - self.final_count
            by_time = self.time_hours is not None and now >= self.started_at + (
                1 - FINAL_FRACTION) * self.time_hours * 3600
            self.final_started = by_count or by_time
        return FINAL_TRAIN if self.final_started else SEARCH

    def final_candidate(self) -> Optional[TrialRecord]:
        """The best completed SEARCH trial whose knobs no FINAL_TRAIN trial has taken yet."""
        taken = {r.key for r in self.records.values() if r.phase == FINAL_TRAIN}
        return self.best_of(r for r in self.records.values() if r.phase == SEARCH and r.completed and r.key not in taken)

    # Policies and sharing.
    def policy_values(self, phase: str, shared: Optional[int]) -> dict:
        cheap = self.split and phase == SEARCH
        return {Policy.EARLY_STOP.value: cheap, Policy.DOWNSCALE.value: cheap,
                Policy.QUICK_EVAL.value: cheap, Policy.SKIP_TRAIN.value: False,
                Policy.SHARE_PARAMS.value: shared is not None}

    def shared_source(self, phase: str, retrains: Optional[TrialRecord], now: float) -> Optional[int]:
        if Policy.SHARE_PARAMS.value not in self.policies:
            return None
        if phase == FINAL_TRAIN and retrains is not None:
            return retrains.no if retrains.params_saved else None
        best = self.best_of(r for r in self.records.values() if r.completed and r.params_saved)
        if best is None:
            return None
        if self.rng.random() < math.exp(-4 * self.progress(now)):
            return None
        return best.no

    def progress(self, now: float) -> float:
        """The share of the trial or time budget used before the next trial."""
        parts = []
        if self.trial_count:
            parts.append(self.spent / self.trial_count)
        if self.time_hours and self.started_at is not None:
            parts.append((now - self.started_at) / (self.time_hours * 3600))
        return min(1.0, max(parts)) if parts else 0.5

    # Bookkeeping.
    def add(self, record: TrialRecord) -> None:
        """Note a trial proposed or restored. A restored FINAL_TRAIN trial does not put the plan in
        its final phase: that follows from the budget the plan was made with (see the module
        docstring), which may have changed since that trial was proposed."""
        self.records[record.no] = record
        self.proposed_keys.add(record.key)

    def best(self) -> Optional[TrialRecord]:
        return self.best_of(r for r in self.records.values() if r.completed)

    def best_of(self, records: Iterable[TrialRecord]) -> Optional[TrialRecord]:
        """The best of completed ``records`` by ``singa.ranking``'s rule, as the API and deployment
        call best (``singa.meta_store.trials``): among those meeting the job's constraints, of the
        ones within the job's tolerance of their best score, the lowest trial number the database
        has. None when none meets the constraints, as there (no trial is best then). The database's
        last tie-break, the earliest to finish, never comes into it here: one template's trial
        numbers are distinct."""
        records = [r for r in records if feasible(trial_values(r.score, r.metrics, None), self.constraints)]
        if not records:
            return None
        top = max(r.score for r in records)
        return min(records, key=lambda r: rank_key(r.score, r.ranked_no, top, self.tie_tolerance))
