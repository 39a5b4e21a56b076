"""Train jobs: create (one sub-job, one advisor and N train workers per template), read, stop,
resume, warm start, live budgets and enqueued trials.

A user sees only their own jobs (admins see all); a job the caller may not see is "not found".
Creating a job records everything in one transaction (the app version is allocated under a lock,
the datasets and templates are locked against deletion), then deploys the services; if a
service cannot be started, whatever was started is removed and the job ends ERRORED with the
reason. Stopping marks the job STOPPING and tells each advisor, which cancels running trials at
once; the reconciler finishes the job if the advisors do not within the grace period. What each
of these does to the job's status is ``singa.lifecycle``'s rule.

Continuing a search (issue 17):

- **resume**: an ended job (STOPPED or ERRORED) runs again with a new budget as the same study:
  same app version, its trials kept, new advisors that rebuild the search from them (and number
  new trials after them), the deadline counted from the resume. Its inference job, if one is
  live, keeps serving the trials it deployed; deploy again after the resume to serve newer ones.
- **warm start**: a new job names an earlier job of the caller's (``warm_start_from``); each of
  its templates that the earlier job tuned starts its search told that job's completed trials.
  The earlier job is only read.
- **live budgets**: a live job's TIME_HOURS and MODEL_TRIAL_COUNT can be raised or lowered; its
  advisors re-read them at once (see ``workers/advisor.py``).
- **enqueued trials**: users queue knob sets on a live sub-job; the advisor runs them first.
"""
import re
import uuid
from dataclasses import dataclass, field
from typing import Optional

from singa.admin.services import code_policy, files, quotas
from singa.admin.services.deployer import Deployer
from singa.admin.services.numbers import split_evenly
from singa.advisor import check_advisor_choice, check_objectives
from singa.advisor.space import SearchSpace, forbids_repeats
from singa.constants import (ADMIN_TYPES, AdvisorType, BudgetKey, ContainerManagerType, PrunerType,
                             ServiceStatus, ServiceType, Task, TrainJobStatus, TrialStatus)
from singa.errors import ConflictError, InvalidRequestError, NotFoundError, ServiceUnavailableError, SingaError
from singa.lifecycle import EndCause, JobEnd, end_train_job, request_stop, resume_train_job
from singa.meta_store import enqueued_trials, events, services, train_jobs, trials, users
from singa.meta_store import models as models_repo
from singa.meta_store.records import EnqueuedTrialRecord, TrainJobRecord, UserRecord
from singa.model import deserialize_knob_config
from singa.objectives import parse_constraints, parse_objectives
from singa.queues import delete_keys, stop_advisors, tell_advisors_budget_changed, train_job_prefix
from singa.ranking import tie_tolerance
from singa.tasks import get_task

APP_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$')
APP_NAME_HINT = '1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'
DEFAULT_TIME_HOURS = 0.1            # neither TIME_HOURS nor a MODEL_TRIAL_COUNT given
COUNT_ONLY_TIME_HOURS = 24.0        # only a MODEL_TRIAL_COUNT given: a deadline all the same
# The deadline counts from the job's creation, and an advisor and a worker process need a few
# seconds to start before the first trial can begin (on 2 cores, a trial of a job with a 4-second
# deadline starts: test_deadline_stops_new_trials_and_cancels_after_grace). A shorter budget could
# not run a single trial, and sub-second ones are nonsense (1e-9 hours once reached PostgreSQL).
MIN_TIME_HOURS = 3 / 3600
MAX_TIME_HOURS = 24 * 30
MAX_MODEL_TRIAL_COUNT = 10_000
NO_TRIAL_LIMIT = -1
MAX_WORKERS_PER_MODEL = 32
MAX_GPU_COUNT = 64
MAX_TRIAL_RETRIES = 10
# Optuna's samplers seed numpy's RandomState, which takes seeds in [0, 2**32 - 1].
MAX_SEED = 2 ** 32 - 1
MAX_MODELS_PER_JOB = 100
# The budget keys a live job's budget may change (its workers and GPUs are placed already).
LIVE_BUDGET_KEYS = (BudgetKey.TIME_HOURS, BudgetKey.MODEL_TRIAL_COUNT)
# Each budget key's type and range; the route checks them (and documents them) before the service
# sees a budget, so ``check_budget`` only applies the defaults and the rules between keys.
BUDGET_RANGES = {
    BudgetKey.TIME_HOURS: (float, MIN_TIME_HOURS, MAX_TIME_HOURS),
    BudgetKey.MODEL_TRIAL_COUNT: (int, NO_TRIAL_LIMIT, MAX_MODEL_TRIAL_COUNT),
    BudgetKey.GPU_COUNT: (int, 0, MAX_GPU_COUNT),
    BudgetKey.WORKERS_PER_MODEL: (int, 1, MAX_WORKERS_PER_MODEL),
    BudgetKey.MAX_CONCURRENT_TRIALS: (int, 1, MAX_WORKERS_PER_MODEL * MAX_MODELS_PER_JOB),
}


@dataclass(frozen=True)
class NewTrainJob:
    app: str
    task: Task
    train_dataset_id: uuid.UUID
    val_dataset_id: uuid.UUID
    budget: dict = field(default_factory=dict)
    model_ids: Optional[list] = None          # of UUIDs
    train_args: dict = field(default_factory=dict)
    advisor: AdvisorType = AdvisorType.AUTO
    pruner: PrunerType = PrunerType.NONE
    max_trial_retries: Optional[int] = None
    seed: Optional[int] = None
    allow_repeats: bool = False
    warm_start_from: Optional[tuple] = None   # (app, app_version) of an earlier job of the caller's
    objectives: Optional[list] = None         # [{name, direction}] (singa.objectives); None: score maximized
    constraints: Optional[list] = None        # [{name, min, max}]


@dataclass(frozen=True)
class EnqueuedTrialView:
    enqueued: EnqueuedTrialRecord
    train_job_id: uuid.UUID
    model_name: str


@dataclass(frozen=True)
class TrainJobView:
    """A job with its sub-jobs and their trial counts and best scores."""
    job: TrainJobRecord
    sub_jobs: list   # [{'sub_job': SubTrainJobRecord, 'model_name': str, 'trials': {status: n}, 'best_score': float}]


class TrainJobService:
    def __init__(self, store, settings, deployer: Deployer, redis_client):
        self.store = store
        self.settings = settings
        self.deployer = deployer
        self.r = redis_client

    # -- create --------------------------------------------------------------------------------

    def create_train_job(self, actor: UserRecord, new: NewTrainJob) -> TrainJobView:
        app = check_app_name(new.app)
        budget = self.check_budget(new.budget)
        config = self._advisor_config(new)
        with self.store.transaction() as cur:
            self._usable_dataset(cur, actor, new.train_dataset_id, new.task, 'train_dataset_id', new.train_args)
            val_stat = self._usable_dataset(cur, actor, new.val_dataset_id, new.task, 'val_dataset_id', new.train_args)
            models = self._usable_models(cur, actor, new.task, new.model_ids)
            if new.model_ids is None:
                models = self._default_models(cur, models, budget, new)
            if new.warm_start_from is not None:
                config['warm_start_from'] = self._warm_start_source(cur, actor, new.warm_start_from, models)
            code_policy.check_owners(cur, self.settings, [m.id for m in models])
            for model in models:
                try:
                    check_advisor_choice(model.knob_config, budget, new.advisor.value, new.pruner.value)
                except InvalidRequestError as e:
                    raise ConflictError(f'template {model.name!r}: {e.message}', resource='model', id=model.id,
                                        field='advisor') from None
            self._check_quota(cur, actor, budget, len(models))
            job = train_jobs.insert_train_job(
                cur, owner_id=actor.id, app=app, task=new.task.value, budget=budget,
                train_dataset_id=new.train_dataset_id, val_dataset_id=new.val_dataset_id,
                train_args=new.train_args, advisor_config=config, time_budget_seconds=deadline_hours(budget) * 3600,
                tie_tolerance=_tie_tolerance(new.task, val_stat, models))
            subs = [train_jobs.insert_sub_train_job(cur, job.id, model.id) for model in models]
            to_deploy = self._insert_services(cur, job, list(zip(subs, models)), budget)
            events.record_event(cur, events.TRAIN_JOB_CREATED, job_id=job.id, subject_id=job.id, actor_id=actor.id,
                                data={'app': app, 'app_version': job.app_version,
                                      'models': [str(m.id) for m in models]})
        self._deploy(job, to_deploy)
        return self.get_train_job_by_id(actor, job.id)

    def _check_quota(self, cur, actor: UserRecord, budget: dict, template_count: int) -> None:
        workers = budget[BudgetKey.WORKERS_PER_MODEL.value]
        gpus = split_evenly(budget[BudgetKey.GPU_COUNT.value], template_count)
        quotas.check(cur, self.settings, actor, running_jobs=1, workers=sum(g or workers for g in gpus),
                     gpus=budget[BudgetKey.GPU_COUNT.value])

    def _insert_services(self, cur, job: TrainJobRecord, subs_and_models: list, budget: dict) -> list:
        """Record each sub-job's advisor and train workers; the ``(service, image)`` pairs to deploy."""
        workers = budget[BudgetKey.WORKERS_PER_MODEL.value]
        gpus = split_evenly(budget[BudgetKey.GPU_COUNT.value], len(subs_and_models))
        to_deploy = []
        for (sub, model), model_gpus in zip(subs_and_models, gpus):
            advisor = services.insert_service(cur, service_type=ServiceType.ADVISOR.value, job_id=job.id,
                                              sub_job_id=sub.id, container_manager=self.settings.container_manager)
            train_jobs.set_sub_train_job_advisor(cur, sub.id, advisor.id)
            to_deploy.append((advisor, None))
            # GPU jobs get one single-GPU worker per GPU; CPU jobs get WORKERS_PER_MODEL workers.
            for gpu_share in ([1] * model_gpus if model_gpus else [0] * workers):
                worker = services.insert_service(cur, service_type=ServiceType.TRAIN.value, job_id=job.id,
                                                 sub_job_id=sub.id, gpus=gpu_share,
                                                 container_manager=self.settings.container_manager)
                to_deploy.append((worker, model.docker_image))
        return to_deploy

    def _warm_start_source(self, cur, actor: UserRecord, source: tuple, models: list) -> dict:
        """The job a new one is warm-started from (one of the caller's, tuning one of its templates)."""
        job = train_job_of_app(cur, actor, *source)
        shared = {s.model_id for s in train_jobs.list_sub_train_jobs(cur, job.id)} & {m.id for m in models}
        if not shared:
            raise ConflictError(f'train job {job.app} v{job.app_version} tuned none of this job\'s templates',
                                resource='train_job', id=job.id, field='warm_start_from')
        return {'train_job_id': str(job.id), 'app': job.app, 'app_version': job.app_version}

    def _deploy(self, job: TrainJobRecord, to_deploy: list) -> None:
        try:
            self.deployer.deploy_all(to_deploy)
        except SingaError as e:
            end = JobEnd(EndCause.DEPLOY_FAILED, e.message)
            with self.store.transaction() as cur:
                for service, _ in to_deploy:
                    services.set_service_status(cur, service.id, ServiceStatus.ERRORED.value, error=end.reason)
                end_train_job(cur, job.id, end, by='admin')
            raise ServiceUnavailableError(end.reason, resource='train_job', id=job.id) from e

    def check_budget(self, budget: dict) -> dict:
        """The budget with its defaults filled in. ``budget`` has only keys of ``BUDGET_RANGES``,
        each of its type and in its range, and MODEL_TRIAL_COUNT is not 0 (the route parsed it so)."""
        trials = budget.get(BudgetKey.MODEL_TRIAL_COUNT.value, NO_TRIAL_LIMIT)
        gpus = budget.get(BudgetKey.GPU_COUNT.value, 0)
        if gpus and self.settings.container_manager == ContainerManagerType.PROCESS:
            raise ConflictError('this platform runs workers as local processes (SINGA_CONTAINER_MANAGER=process), '
                                'which cannot place GPUs; use GPU_COUNT 0 or the swarm manager', field='budget')
        out = {BudgetKey.MODEL_TRIAL_COUNT.value: trials, BudgetKey.GPU_COUNT.value: gpus,
               BudgetKey.WORKERS_PER_MODEL.value: budget.get(BudgetKey.WORKERS_PER_MODEL.value, 1)}
        cap = budget.get(BudgetKey.MAX_CONCURRENT_TRIALS.value)
        if cap is not None:
            out[BudgetKey.MAX_CONCURRENT_TRIALS.value] = cap
        hours = budget.get(BudgetKey.TIME_HOURS.value, DEFAULT_TIME_HOURS if trials == NO_TRIAL_LIMIT else None)
        if hours is not None:
            out[BudgetKey.TIME_HOURS.value] = float(hours)
        return out

    def _advisor_config(self, new: NewTrainJob) -> dict:
        retries = self.settings.max_trial_retries if new.max_trial_retries is None else new.max_trial_retries
        check_objectives(new.objectives, new.constraints, new.advisor.value, new.pruner.value)
        return {'advisor': new.advisor.value, 'pruner': new.pruner.value, 'max_trial_retries': retries,
                'seed': new.seed, 'allow_repeats': new.allow_repeats,
                'objectives': [o.to_dict() for o in parse_objectives(new.objectives)],
                'constraints': [c.to_dict() for c in parse_constraints(new.constraints)]}

    def _usable_dataset(self, cur, actor, dataset_id, task: Task, name: str, train_args: dict) -> dict:
        """The statistics of a dataset the caller may train on, checked against the job's task and
        ``train_args``."""
        cur.execute('SELECT id, owner_id, task, store_path, stat FROM datasets WHERE id = %s FOR SHARE', (dataset_id,))
        row = cur.fetchone()
        if row is None or (row['owner_id'] != actor.id and actor.user_type not in ADMIN_TYPES):
            raise NotFoundError(f'no such dataset ({name})', resource='dataset', id=dataset_id, field=name)
        if row['task'] != task.value:
            raise ConflictError(f'{name} is a {row["task"]} dataset, not {task.value}', resource='dataset',
                                id=dataset_id, field=name)
        get_task(task).check_train_args(files.storage_path(self.settings, row['store_path']), row['stat'] or {},
                                        train_args, 'the ' + name.removesuffix('_id').replace('_', ' '))
        return row['stat'] or {}

    def _default_models(self, cur, models: list, budget: dict, new: NewTrainJob) -> list:
        """The templates a job that names none tunes: every available one that this search can
        run (and, where only the superadmin's code may run, the superadmin's). Another user's
        public template that does not fit is left out, so it can never make this job fail."""
        allowed = set(code_policy.runnable(cur, self.settings, [m.id for m in models]))
        fitting = []
        for model in models:
            try:
                check_advisor_choice(model.knob_config, budget, new.advisor.value, new.pruner.value)
            except InvalidRequestError:
                continue
            if model.id in allowed:
                fitting.append(model)
        if not fitting:
            raise ConflictError(f'no available {new.task.value} template can be tuned with advisor '
                                f'{new.advisor.value} and pruner {new.pruner.value}', resource='model',
                                field='model_ids')
        return fitting

    def _usable_models(self, cur, actor, task: Task, model_ids: Optional[list]) -> list:
        if model_ids is None:
            models = models_repo.list_available_models(cur, user_id=actor.id, task=task.value)
            if not models:
                raise ConflictError(f'no model template is available for {task.value}; upload one first',
                                    resource='model', field='model_ids')
            ids = [m.id for m in models]
        else:
            ids = list(dict.fromkeys(model_ids))
        cur.execute('SELECT id FROM models WHERE id = ANY(%s) AND deleted_at IS NULL FOR SHARE', (ids,))
        found = []
        for model_id in ids:
            model = models_repo.get_model(cur, model_id)
            visible = model is not None and (model.owner_id == actor.id or actor.user_type in ADMIN_TYPES
                                             or model.access_right == 'PUBLIC')
            if not visible:
                raise NotFoundError('no such model template', resource='model', id=model_id, field='model_ids')
            if model.task != task.value:
                raise ConflictError(f'template {model.name!r} is for {model.task}, not {task.value}',
                                    resource='model', id=model_id, field='model_ids')
            found.append(model)
        return found

    # -- read ----------------------------------------------------------------------------------

    def get_train_job(self, actor: UserRecord, app: str, app_version: int = -1,
                      owner_id: Optional[uuid.UUID] = None) -> TrainJobView:
        with self.store.transaction() as cur:
            return self._view(cur, train_job_of_app(cur, actor, app, app_version, owner_id))

    def get_train_job_by_id(self, actor: UserRecord, train_job_id) -> TrainJobView:
        with self.store.transaction() as cur:
            job = visible_train_job(cur, actor, train_job_id)
            return self._view(cur, job)

    def list_train_jobs(self, actor: UserRecord, *, app: Optional[str] = None,
                        owner_id: Optional[uuid.UUID] = None) -> list[TrainJobView]:
        with self.store.transaction() as cur:
            jobs = train_jobs.list_train_jobs(cur, owner_id=owner_of(actor, owner_id), app=app)
            return [self._view(cur, job) for job in jobs]

    def _view(self, cur, job: TrainJobRecord) -> TrainJobView:
        cur.execute(
            'SELECT s.id, m.name AS model_name, t.status, count(t.id) AS n, max(t.score) AS best'
            ' FROM sub_train_jobs s JOIN models m ON m.id = s.model_id'
            ' LEFT JOIN trials t ON t.sub_train_job_id = s.id WHERE s.train_job_id = %s'
            ' GROUP BY s.id, m.name, t.status', (job.id,))
        counts: dict = {}
        for row in cur.fetchall():
            entry = counts.setdefault(row['id'], {'model_name': row['model_name'], 'trials': {}, 'best_score': None})
            if row['status'] is not None:
                entry['trials'][row['status']] = row['n']
            if row['status'] == TrialStatus.COMPLETED and row['best'] is not None:
                entry['best_score'] = row['best']
        subs = []
        for sub in train_jobs.list_sub_train_jobs(cur, job.id):
            entry = counts.get(sub.id, {'model_name': '', 'trials': {}, 'best_score': None})
            subs.append(dict(entry, sub_job=sub))
        return TrainJobView(job=job, sub_jobs=subs)

    # -- stop ----------------------------------------------------------------------------------

    def stop_train_job(self, actor: UserRecord, app: str, app_version: int = -1,
                       owner_id: Optional[uuid.UUID] = None) -> TrainJobView:
        with self.store.transaction() as cur:
            job = train_job_of_app(cur, actor, app, app_version, owner_id)
        return self.stop_train_job_by_id(actor, job.id)

    def stop_train_job_by_id(self, actor: UserRecord, train_job_id) -> TrainJobView:
        with self.store.transaction() as cur:
            job = visible_train_job(cur, actor, train_job_id, for_update=True)
            sub_ids = request_stop(cur, job.id, actor.id)
        stop_advisors(self.r, job.id, sub_ids, EndCause.USER_STOP)
        return self.get_train_job_by_id(actor, job.id)

    def stop_all_train_jobs(self, actor: UserRecord) -> list[uuid.UUID]:
        with self.store.transaction() as cur:
            live = train_jobs.list_train_jobs(cur, statuses=TrainJobStatus.LIVE)
        for job in live:
            self.stop_train_job_by_id(actor, job.id)
        return [job.id for job in live]

    # -- resume --------------------------------------------------------------------------------

    def resume_train_job(self, actor: UserRecord, app: str, app_version: int, budget: dict,
                         owner_id: Optional[uuid.UUID] = None) -> TrainJobView:
        """Run an ended job again with ``budget`` (checked like a new job's), as the same study.

        It locks the job's row, as the reconciler's clean-up of the ended run does before it removes
        the job's queues and Redis user (``Reconciler.clean_up_train_job``): the one waits for the
        other, so the new run keeps what it makes."""
        budget = self.check_budget(budget)
        with self.store.transaction() as cur:
            job = train_jobs.get_train_job(cur, train_job_of_app(cur, actor, app, app_version, owner_id).id,
                                           for_update=True)
            owner = actor if job.owner_id == actor.id else users.get_user(cur, job.owner_id)
            subs = train_jobs.list_sub_train_jobs(cur, job.id)
            models = [self._resumable_model(cur, job, sub.model_id) for sub in subs]
            for dataset_id, name in ((job.train_dataset_id, 'train_dataset_id'), (job.val_dataset_id, 'val_dataset_id')):
                if dataset_id is None:
                    raise ConflictError(f'the {name.removesuffix("_id").replace("_", " ")} of this job was deleted',
                                        resource='train_job', id=job.id, field=name)
                self._usable_dataset(cur, owner, dataset_id, Task(job.task), name, job.train_args or {})
            code_policy.check_owners(cur, self.settings, [m.id for m in models])
            self._check_quota(cur, owner, budget, len(models))
            stale = services.list_services(cur, job_id=job.id, live_only=True)
            subs = resume_train_job(cur, job, budget, deadline_hours(budget) * 3600, actor.id)
            to_deploy = self._insert_services(cur, job, list(zip(subs, models)), budget)
        # The services of the last run the reconciler has not removed yet, and its queues.
        for service in stale:
            self.deployer.remove(service)
        delete_keys(self.r, train_job_prefix(job.id))
        self._deploy(job, to_deploy)
        return self.get_train_job_by_id(actor, job.id)

    def _resumable_model(self, cur, job: TrainJobRecord, model_id):
        model = models_repo.get_model(cur, model_id)
        if model is None:
            raise ConflictError('a template this job tuned was deleted; it cannot be resumed', resource='model',
                                id=model_id)
        return model

    # -- live budgets --------------------------------------------------------------------------

    def change_budget(self, actor: UserRecord, app: str, app_version: int, changes: dict,
                      owner_id: Optional[uuid.UUID] = None) -> TrainJobView:
        """Set a live job's TIME_HOURS and MODEL_TRIAL_COUNT (``changes``, parsed by the route to
        those keys and their ranges); its advisors honour them at once."""
        with self.store.transaction() as cur:
            job = train_jobs.get_train_job(cur, train_job_of_app(cur, actor, app, app_version, owner_id).id,
                                           for_update=True)
            if job.status not in (TrainJobStatus.STARTED, TrainJobStatus.RUNNING):
                raise ConflictError(f'train job {job.app} v{job.app_version} is {job.status}; resume it with a new '
                                    'budget instead', resource='train_job', id=job.id)
            if not changes:
                return self._view(cur, job)
            budget = dict(job.budget, **changes)
            hours = changes.get(BudgetKey.TIME_HOURS.value)
            job = train_jobs.change_budget(cur, job.id, budget, None if hours is None else float(hours) * 3600)
            events.record_event(cur, events.TRAIN_JOB_BUDGET_CHANGED, job_id=job.id, subject_id=job.id,
                                actor_id=actor.id, data={'changes': changes, 'budget': budget})
            live = [s.id for s in train_jobs.list_sub_train_jobs(cur, job.id) if s.status not in TrainJobStatus.FINISHED]
        tell_advisors_budget_changed(self.r, job.id, live)
        return self.get_train_job_by_id(actor, job.id)

    # -- enqueued trials -----------------------------------------------------------------------

    def enqueue_trial(self, actor: UserRecord, app: str, app_version: int, model_name: str, knobs: dict,
                      owner_id: Optional[uuid.UUID] = None) -> EnqueuedTrialView:
        """Queue a trial with ``knobs`` on the live sub-job of template ``model_name``: checked
        against its knob space (400 naming the bad knob) and, where the job forbids repeats, against
        the knob sets it has tried, been told or been asked for (409)."""
        with self.store.transaction() as cur:
            job = train_jobs.get_train_job(cur, train_job_of_app(cur, actor, app, app_version, owner_id).id,
                                           for_update=True)
            sub = train_jobs.sub_train_job_of_model(cur, job.id, model_name)
            if sub is None:
                raise NotFoundError(f'train job {job.app} v{job.app_version} tunes no template {model_name!r}',
                                    resource='model', field='model')
            if job.status not in (TrainJobStatus.STARTED, TrainJobStatus.RUNNING) or sub.status in TrainJobStatus.FINISHED:
                raise ConflictError(f'the search of {model_name!r} in train job {job.app} v{job.app_version} has '
                                    'ended; resume the job first', resource='train_job', id=job.id)
            model = models_repo.get_model(cur, sub.model_id, include_deleted=True)
            space = SearchSpace(deserialize_knob_config(model.knob_config))
            full = space.check_knobs(knobs)
            if forbids_repeats(space, bool((job.advisor_config or {}).get('allow_repeats'))):
                self._check_not_tried(cur, job, sub, space, full)
            row = enqueued_trials.insert_enqueued_trial(cur, sub.id, full, actor.id)
            events.record_event(cur, events.TRIAL_ENQUEUED, job_id=job.id, subject_id=row.id, actor_id=actor.id,
                                data={'model_name': model_name, 'knobs': full})
        return EnqueuedTrialView(enqueued=row, train_job_id=job.id, model_name=model_name)

    def _check_not_tried(self, cur, job: TrainJobRecord, sub, space: SearchSpace, knobs: dict) -> None:
        key = space.config_key(knobs)
        tried = [(f'trial {t.no}', t.knobs) for t in trials.list_trials_of_sub_job(cur, sub.id)]
        tried += [('a trial enqueued before', e.knobs) for e in enqueued_trials.list_waiting(cur, sub.id)]
        source = (job.advisor_config or {}).get('warm_start_from')
        if source:
            tried += [(f'trial {t.no} of the job it was warm-started from', t.knobs)
                      for t in trials.completed_trials_of_template(cur, source['train_job_id'], sub.model_id)]
        for what, other in tried:
            if space.config_key(other) == key:
                raise ConflictError(f'this knob set was tried already ({what}); the job does not allow repeats',
                                    resource='train_job', id=job.id, field='knobs')


def deadline_hours(budget: dict) -> float:
    """Hours from a run's start to its deadline: TIME_HOURS, or for a job with only a trial count a
    deadline all the same (the budget, which the advisor plans with, keeps what was asked)."""
    return float(budget.get(BudgetKey.TIME_HOURS.value, COUNT_ONLY_TIME_HOURS))


def _tie_tolerance(task, val_stat: dict, models) -> float:
    """A new job's tie tolerance (``singa.ranking``): one validation example's share of the score when
    the task's score counts examples and every template's ``evaluate`` does too (none declares
    ``score_counts_examples = False``), else floating-point noise."""
    counts = all(m.score_counts_examples for m in models)
    return tie_tolerance(get_task(task).score_resolution(val_stat) if counts else None)


def train_job_of_app(cur, actor: UserRecord, app: str, app_version: int = -1,
                     owner_id: Optional[uuid.UUID] = None) -> TrainJobRecord:
    """The caller's job of ``app`` at ``app_version`` (-1: the latest); an admin may name another
    owner. ``NotFoundError`` when there is none."""
    job = train_jobs.get_train_job_by_app(cur, owner_of(actor, owner_id), app, app_version)
    if job is None:
        raise NotFoundError(f'no train job {app!r} version {app_version}', resource='train_job')
    return job


def owner_of(actor: UserRecord, owner_id: Optional[uuid.UUID]) -> uuid.UUID:
    """Whose jobs a request addresses: the actor's, or another user's when the actor is an admin."""
    if owner_id is None or owner_id == actor.id:
        return actor.id
    if actor.user_type not in ADMIN_TYPES:
        raise NotFoundError('no such user', resource='user', id=owner_id)
    return owner_id


def visible_train_job(cur, actor: UserRecord, train_job_id, for_update: bool = False) -> TrainJobRecord:
    job = train_jobs.get_train_job(cur, train_job_id, for_update=for_update)
    if job is None or (job.owner_id != actor.id and actor.user_type not in ADMIN_TYPES):
        raise NotFoundError('no such train job', resource='train_job', id=train_job_id)
    return job


def check_app_name(app) -> str:
    if not isinstance(app, str) or not APP_NAME.match(app):
        raise InvalidRequestError(f'app must be {APP_NAME_HINT}', field='app')
    return app
