"""Train jobs: create (one sub-job, one advisor and N train workers per template), read, stop.

A user sees only their own jobs (admins see all); a job the caller may not see is "not found".
Creating a job records everything in one transaction (the app version is allocated under a lock,
the datasets and templates are locked against deletion), then deploys the services; if a
service cannot be started, whatever was started is removed and the job ends ERRORED with the
reason. Stopping marks the job STOPPING and tells each advisor, which cancels running trials at
once; the reconciler finishes the job if the advisors do not within the grace period. What each
of these does to the job's status is ``singa.lifecycle``'s rule.
"""
import re
import uuid
from dataclasses import dataclass, field
from typing import Optional

from singa.admin.services import code_policy, files, quotas
from singa.admin.services.deployer import Deployer
from singa.admin.services.numbers import split_evenly
from singa.advisor import check_advisor_choice
from singa.constants import (ADMIN_TYPES, AdvisorType, BudgetKey, ContainerManagerType, PrunerType,
                             ServiceStatus, ServiceType, Task, TrainJobStatus, TrialStatus)
from singa.errors import ConflictError, InvalidRequestError, NotFoundError, ServiceUnavailableError, SingaError
from singa.lifecycle import EndCause, JobEnd, end_train_job, request_stop
from singa.meta_store import events, services, train_jobs
from singa.meta_store import models as models_repo
from singa.meta_store.records import TrainJobRecord, UserRecord
from singa.queues import stop_advisors
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
# Each budget key's type and range; the route checks them (and documents them) before the service
# sees a budget, so ``check_budget`` only applies the defaults and the rules between keys.
BUDGET_RANGES = {
    BudgetKey.TIME_HOURS: (float, MIN_TIME_HOURS, MAX_TIME_HOURS),
    BudgetKey.MODEL_TRIAL_COUNT: (int, NO_TRIAL_LIMIT, MAX_MODEL_TRIAL_COUNT),
    BudgetKey.GPU_COUNT: (int, 0, MAX_GPU_COUNT),
    BudgetKey.WORKERS_PER_MODEL: (int, 1, MAX_WORKERS_PER_MODEL),
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
            for dataset_id, name in ((new.train_dataset_id, 'train_dataset_id'), (new.val_dataset_id, 'val_dataset_id')):
                self._usable_dataset(cur, actor, dataset_id, new.task, name, new.train_args)
            models = self._usable_models(cur, actor, new.task, new.model_ids)
            if new.model_ids is None:
                models = self._default_models(cur, models, budget, new)
            code_policy.check_owners(cur, self.settings, [m.id for m in models])
            for model in models:
                try:
                    check_advisor_choice(model.knob_config, budget, new.advisor.value, new.pruner.value)
                except InvalidRequestError as e:
                    raise ConflictError(f'template {model.name!r}: {e.message}', resource='model', id=model.id,
                                        field='advisor') from None
            # A job with only a trial count ends by a deadline all the same (the budget, which the
            # advisor plans with, keeps what was asked).
            hours = budget.get(BudgetKey.TIME_HOURS.value, COUNT_ONLY_TIME_HOURS)
            workers = budget[BudgetKey.WORKERS_PER_MODEL.value]
            gpus = split_evenly(budget[BudgetKey.GPU_COUNT.value], len(models))
            quotas.check(cur, self.settings, actor, running_jobs=1, workers=sum(g or workers for g in gpus),
                         gpus=budget[BudgetKey.GPU_COUNT.value])
            job = train_jobs.insert_train_job(
                cur, owner_id=actor.id, app=app, task=new.task.value, budget=budget,
                train_dataset_id=new.train_dataset_id, val_dataset_id=new.val_dataset_id,
                train_args=new.train_args, advisor_config=config,
                time_budget_seconds=hours * 3600)
            to_deploy = []
            for model, model_gpus in zip(models, gpus):
                sub = train_jobs.insert_sub_train_job(cur, job.id, model.id)
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
            events.record_event(cur, events.TRAIN_JOB_CREATED, job_id=job.id, subject_id=job.id, actor_id=actor.id,
                                data={'app': app, 'app_version': job.app_version,
                                      'models': [str(m.id) for m in models]})
        self._deploy(job, to_deploy)
        return self.get_train_job_by_id(actor, job.id)

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
        hours = budget.get(BudgetKey.TIME_HOURS.value, DEFAULT_TIME_HOURS if trials == NO_TRIAL_LIMIT else None)
        if hours is not None:
            out[BudgetKey.TIME_HOURS.value] = float(hours)
        return out

    def _advisor_config(self, new: NewTrainJob) -> dict:
        retries = self.settings.max_trial_retries if new.max_trial_retries is None else new.max_trial_retries
        return {'advisor': new.advisor.value, 'pruner': new.pruner.value, 'max_trial_retries': retries,
                'seed': new.seed}

    def _usable_dataset(self, cur, actor, dataset_id, task: Task, name: str, train_args: dict) -> None:
        cur.execute('SELECT id, owner_id, task, store_path, stat FROM datasets WHERE id = %s FOR SHARE', (dataset_id,))
        row = cur.fetchone()
        if row is None or (row['owner_id'] != actor.id and actor.user_type not in ADMIN_TYPES):
            raise NotFoundError(f'no such dataset ({name})', resource='dataset', id=dataset_id, field=name)
        if row['task'] != task.value:
            raise ConflictError(f'{name} is a {row["task"]} dataset, not {task.value}', resource='dataset',
                                id=dataset_id, field=name)
        get_task(task).check_train_args(files.storage_path(self.settings, row['store_path']), row['stat'] or {},
                                        train_args, 'the ' + name.removesuffix('_id').replace('_', ' '))

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
