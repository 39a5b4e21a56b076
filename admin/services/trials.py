"""Trials of train jobs: lists, the best ones, one trial, its logs, its trained parameters.

Every read checks that the caller may see the trial's job (its owner, or an admin); a trial the
caller may not see is "not found", so ids cannot be probed.
"""
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.admin.services.train_jobs import train_job_of_app, visible_train_job
from singa.errors import NotFoundError
from singa.meta_store import trials
from singa.meta_store.records import TrialRecord, UserRecord
from singa.objectives import feasible, pareto_front, parse_objectives
from singa.param_store import make_param_store
from singa.ranking import is_tie, rank_rule

MAX_TRIALS_PAGE = 1000
MAX_TRIALS_OFFSET = 2 ** 31 - 1
MAX_BEST = 100
MAX_LOG_ID = 2 ** 63 - 1            # trial log ids are PostgreSQL bigserials


@dataclass(frozen=True)
class TrialView:
    trial: TrialRecord
    model_name: str
    train_job_id: uuid.UUID
    # In a listing of the best trials: the rule that ranked them, and whether this one ties with the best.
    rank_rule: Optional[str] = None
    tied_with_best: Optional[bool] = None
    with_values: bool = False          # show every known figure of it by name (``TrialRecord.values``)
    feasible: Optional[bool] = None    # in a Pareto answer: whether it meets the job's constraints


@dataclass(frozen=True)
class ParetoFront:
    objectives: tuple       # of singa.objectives.Objective
    constraints: tuple      # of singa.objectives.Constraint
    trials: list            # [TrialView], best score first
    others: Optional[list] = None   # when asked: the other completed trials [TrialView], best score first


@dataclass(frozen=True)
class TrialLogs:
    plots: list       # [{title, metrics, x_axis}]
    metrics: list     # [{time, <metric>: value, ...}]
    messages: list    # [{time, level, message}]
    last_id: int      # pass as after_id to read only newer lines


class TrialService:
    def __init__(self, store, settings):
        self.store = store
        self.param_store = make_param_store(settings)

    def list_trials(self, actor: UserRecord, app: str, app_version: int, *, best: bool = False,
                    max_count: int = 2, limit: int = MAX_TRIALS_PAGE, offset: int = 0,
                    owner_id: Optional[uuid.UUID] = None) -> list[TrialView]:
        """The trials of a job, newest first (``limit`` from ``offset``), or its ``max_count`` best.
        The counts are in their ranges (``MAX_BEST``, ``MAX_TRIALS_PAGE``, ``MAX_TRIALS_OFFSET``):
        the route parsed them so."""
        with self.store.transaction() as cur:
            job = train_job_of_app(cur, actor, app, app_version, owner_id)
            if best:
                found = trials.best_trials_of_train_job(cur, job.id, max_count, constraints=job.constraints)
            else:
                found = trials.list_trials_of_train_job(cur, job.id, limit=limit, offset=offset)
            names = _model_names(cur, {t.model_id for t in found})
        if best:
            # The best score of all is among these, unless they all tie with it (then any of them will do).
            top = max((t.score for t in found), default=None)
            rule = rank_rule(job.tie_tolerance, job.constraints)
            return [TrialView(t, names.get(t.model_id, ''), job.id, rule, is_tie(t.score, top, job.tie_tolerance))
                    for t in found]
        return [TrialView(t, names.get(t.model_id, ''), job.id) for t in found]

    def pareto_front(self, actor: UserRecord, app: str, app_version: int, owner_id: Optional[uuid.UUID] = None,
                     objectives: Optional[tuple] = None, others: bool = False) -> ParetoFront:
        """The job's completed trials that meet its constraints and that no other such trial
        dominates on ``objectives`` (default: the job's; ``singa.objectives.pareto_front``), in
        ``singa.ranking``'s order; with ``others``, the rest of its completed trials too."""
        with self.store.transaction() as cur:
            job = train_job_of_app(cur, actor, app, app_version, owner_id)
            found = trials.completed_trials_of_train_job(cur, job.id)
            names = _model_names(cur, {t.model_id for t in found})
        config = job.advisor_config or {}
        objectives = objectives or parse_objectives(config.get('objectives'))
        constraints = job.constraints
        front = pareto_front([t.values for t in found], objectives, constraints)

        def view(trial: TrialRecord) -> TrialView:
            return TrialView(trial, names.get(trial.model_id, ''), job.id, with_values=True,
                             feasible=feasible(trial.values, constraints))
        on_front = set(front)
        rest = [view(t) for i, t in enumerate(found) if i not in on_front] if others else None
        return ParetoFront(objectives, constraints, [view(found[i]) for i in front], rest)

    def get_trial(self, actor: UserRecord, trial_id: uuid.UUID) -> TrialView:
        with self.store.transaction() as cur:
            return self._visible(cur, actor, trial_id)

    def _visible(self, cur, actor: UserRecord, trial_id: uuid.UUID) -> TrialView:
        trial = trials.get_trial(cur, trial_id)
        owner = trials.train_job_of_trial(cur, trial_id) if trial is not None else None
        if owner is None:
            raise NotFoundError('no such trial', resource='trial', id=trial_id)
        try:
            visible_train_job(cur, actor, owner['train_job_id'])
        except NotFoundError:
            raise NotFoundError('no such trial', resource='trial', id=trial_id) from None
        names = _model_names(cur, {trial.model_id})
        return TrialView(trial, names.get(trial.model_id, ''), owner['train_job_id'])

    def get_trial_logs(self, actor: UserRecord, trial_id: uuid.UUID, after_id: int = 0) -> TrialLogs:
        """The trial's log lines parsed into plots, metrics and messages (SingaAuto's shape)."""
        with self.store.transaction() as cur:
            self._visible(cur, actor, trial_id)
            lines = trials.get_logs(cur, trial_id, after_id=max(0, after_id))
        plots, metrics, messages = [], [], []
        for record in lines:
            line, time = record.line, record.time.isoformat()
            kind = line.get('type')
            if kind == 'PLOT':
                plots.append({'title': line.get('title'), 'metrics': line.get('metrics', []),
                              'x_axis': line.get('x_axis')})
            elif kind == 'METRICS':
                metrics.append(dict(line.get('metrics') or {}, time=time))
            else:
                messages.append({'time': time, 'level': record.level, 'message': str(line.get('message', ''))})
        return TrialLogs(plots, metrics, messages, lines[-1].id if lines else max(0, after_id))

    def get_trial_parameters(self, actor: UserRecord, trial_id: uuid.UUID) -> bytes:
        """The trial's parameters in the param store's pickle-free format (``codec.decode_params``)."""
        with self.store.transaction() as cur:
            view = self._visible(cur, actor, trial_id)
        if not view.trial.params_id or not self.param_store.exists(view.trial.params_id):
            raise NotFoundError('this trial has no saved parameters', resource='trial', id=trial_id)
        return self.param_store.load_encoded(view.trial.params_id)


def _model_names(cur, model_ids) -> dict:
    if not model_ids:
        return {}
    cur.execute('SELECT id, name FROM models WHERE id = ANY(%s)', (list(model_ids),))
    return {row['id']: row['name'] for row in cur.fetchall()}
