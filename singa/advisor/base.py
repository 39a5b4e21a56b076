"""``BaseAdvisor``: the search engine behind one sub-train job (the contract is the docstring)."""
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Tuple

from singa.constants import BudgetKey


@dataclass
class Proposal:
    """What a train worker should run as trial ``trial_no``.

    ``knobs``: one realised value per knob name (JSON-able; inactive conditional knobs are None,
    policy knobs are bools). ``meta``: JSON-able facts about the proposal (``phase`` etc.); record
    it with the trial and hand it back in ``PastTrial.meta``. ``shared_params_trial_no``: the earlier
    trial whose saved parameters go to ``train(shared_params=...)`` (None = train from scratch).
    ``to_save_params``: whether the worker should save the trained parameters.
    """
    trial_no: int
    knobs: dict
    meta: dict = field(default_factory=dict)
    shared_params_trial_no: Optional[int] = None
    to_save_params: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> 'Proposal':
        return cls(**{k: data[k] for k in ('trial_no', 'knobs', 'meta', 'shared_params_trial_no',
                                           'to_save_params') if k in data})


@dataclass
class PastTrial:
    """A recorded trial, as the advisor worker reads it back from the database after a restart.

    ``status`` is a ``TrialStatus`` value; ``intermediate`` the reported ``(step, score)`` pairs;
    ``meta`` the ``Proposal.meta`` it was proposed with; ``params_saved`` whether its trained
    parameters are in the parameter store; ``earlier_run``: it ran before the job was last resumed
    (it informs the search, but the phases and time plan of the current run start afresh);
    ``metrics``: its values by name (``singa.objectives.trial_values``), which the objectives name.
    ``no`` is the trial's number when it was proposed (``Proposal.trial_no``); ``recorded_no`` the
    database's number of the attempt recorded, when it differs (a lost trial's retry has its own).
    """
    no: int
    knobs: dict
    status: str
    score: Optional[float] = None
    intermediate: List[Tuple[int, float]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    params_saved: bool = True
    earlier_run: bool = False
    metrics: dict = field(default_factory=dict)
    recorded_no: Optional[int] = None


class BaseAdvisor(ABC):
    """Proposes knobs for trials and learns from their scores (higher is better), or from the
    values of the job's objectives.

    Contract, for every implementation:

    * Built by ``singa.advisor.make_advisor(knob_config, budget, advisor_type, pruner, seed,
      allow_repeats, objectives, constraints)``. ``objectives`` (``[{name, direction}]``, default
      the score maximized) name what the search optimizes, several at once for a multi-objective
      search, and ``constraints`` (``[{name, min, max}]``) what a good trial must meet; their
      values are a trial's ``metrics``. A completed trial lacking an objective's value is told
      to the search as failed.
      Budget keys ``TIME_HOURS`` and ``MODEL_TRIAL_COUNT`` (-1 or absent = unlimited) are used to
      *plan* (search phase vs final training); enforcing them is the platform's job.
    * ``restore(past)`` once, before the first ``propose``, rebuilds the search state from the
      recorded trials (an advisor restart resumes its search, its phases and its best trials).
      Trials still RUNNING may later get ``report``/``feedback`` as usual.
    * ``propose(trial_no, now=None) -> Proposal | None``: fast (no I/O). ``trial_no`` is chosen by
      the caller (see ``next_trial_no``); several proposals may be outstanding at once (N train
      workers). ``None`` means nothing more to propose (search space exhausted).
    * No repeats: in a finite space, unless built with ``allow_repeats``, no two proposals (nor a
      proposal and a restored trial) have the same configuration, compared on the values of their
      active knobs, policy knobs aside; ``None`` once every configuration was proposed. A trial the
      caller runs again with the same knobs (a retry of a lost trial) is the same trial, not a
      repeat: it is not proposed again.
    * ``warm_start(known) -> int``: once, after ``restore`` and before the first ``propose``: the
      completed trials (``PastTrial``) of another job of the same template are told to the search as
      evaluated, so it starts informed. They count as proposed for the no-repeat rule (unless
      ``allow_repeats``), but are not this advisor's trials: never fed back, retrained or shared.
      Returns how many fit the space and were told.
    * ``propose_given(trial_no, knobs, now=None) -> Proposal | None``: a trial with knobs the user
      chose (every searchable knob valid, as ``SearchSpace.check_knobs`` makes them), recorded like a
      proposal of the advisor's own (the sampler learns from its result). ``None`` when the no-repeat
      rule forbids it: its configuration was proposed, restored or told before.
    * ``report(trial_no, step, score) -> bool``: an intermediate score; True = prune the trial.
    * ``feedback(trial_no, score, status, params_saved=True, metrics=None, recorded_no=None)``: the
      trial ended (``metrics``: its values by name, as in ``PastTrial``; ``recorded_no``: the
      database's number of the attempt that ended, when it is not ``trial_no``: a retry of a lost
      trial). The best trial is the best by ``singa.ranking``'s rule, as the database ranks it:
      among those meeting the constraints, ties ordered by the database's numbers. ``status`` is
      ``COMPLETED`` (score set), ``PRUNED`` (score = last intermediate or None), ``ERRORED`` or
      ``STOPPED`` (no score). Feedback for a trial that already ended is ignored; for a trial
      this advisor never proposed or restored it raises ``InvalidRequestError``.
    * Deterministic: with a seed and the same calls, the same proposals.
    * State lives in memory only; there is no ``to_json``: ``restore`` is the persistence story.
    """

    def __init__(self, knob_config: dict, budget: Optional[dict] = None):
        self.knob_config = knob_config
        self.budget = dict(budget or {})

    @property
    def trial_count_budget(self) -> Optional[int]:
        return _positive(self.budget.get(BudgetKey.MODEL_TRIAL_COUNT.value), int)

    @property
    def time_budget_hours(self) -> Optional[float]:
        return _positive(self.budget.get(BudgetKey.TIME_HOURS.value), float)

    @property
    @abstractmethod
    def next_trial_no(self) -> int:
        """1 + the highest trial number proposed or restored so far (1 for a fresh advisor)."""

    @abstractmethod
    def restore(self, past: List[PastTrial]) -> None:
        ...

    @abstractmethod
    def propose(self, trial_no: int, now: Optional[float] = None) -> Optional[Proposal]:
        ...

    @abstractmethod
    def warm_start(self, known: List[PastTrial]) -> int:
        ...

    @abstractmethod
    def propose_given(self, trial_no: int, knobs: dict, now: Optional[float] = None) -> Optional[Proposal]:
        ...

    @abstractmethod
    def report(self, trial_no: int, step: int, score: float) -> bool:
        ...

    @abstractmethod
    def feedback(self, trial_no: int, score: Optional[float], status: str, params_saved: bool = True,
                 metrics: Optional[dict] = None, recorded_no: Optional[int] = None) -> None:
        ...


def _positive(value, kind):
    if value is None or isinstance(value, bool):
        return None
    try:
        value = kind(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None
