"""Inference jobs: deploy the best trials of a finished train job behind one predictor.

Creating a job picks the best trials that saved parameters (``models_per_template`` of each
template, at most ``max_models`` in all), records the job, its predictor and one inference
service per trial (``replicas`` each), publishes what they serve to Redis, then deploys them.
A train job has at most one live inference job (409). Stopping removes the services, the job's
Redis keys and its Redis user. Prediction keys are shown once; only their hashes are kept.

A checkpoint job deploys a template uploaded with trained parameters (its checkpoint), with no
train job: one inference service that serves the template with the checkpoint and knobs given
at creation or fixed by its knob space (``untuned_values``). It is the same job otherwise (the
same workers, predictor, keys, reconciliation), addressed by the template's name as its app and
version 1 (SingaAuto's way), at most one live per template. Where an app names both a train job
with an inference job and a template, the train job's wins. The serving channel calls what each
service serves a trial; a checkpoint job's is the template's id (``ServiceRecord.served_id``).

A banned owner's jobs stop answering: the predictors of their private jobs lose every key (the
owner's and the admin's own), and their public jobs, which need no key, are stopped. An unban
gives the private jobs their keys back; stopped public jobs stay stopped (deploy them again).
"""
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass, field
from typing import NoReturn, Optional

import requests

from singa.admin.services import code_policy, quotas
from singa.admin.services.deployer import Deployer, ensure_job_redis_user, job_redis_credentials
from singa.admin.services.numbers import split_evenly
from singa.admin.services.train_jobs import owner_of
from singa.constants import (ADMIN_TYPES, BudgetKey, ContainerManagerType, EnsembleMethod, EventKind,
                             InferenceJobStatus, ServiceStatus, ServiceType, TrainJobStatus)
from singa.errors import ConflictError, NotFoundError, ServiceUnavailableError, SingaError
from singa.lifecycle import EndCause, JobEnd, end_inference_job, roll_up_inference_job
from singa.meta_store import events, inference_jobs, services, train_jobs, trials
from singa.meta_store import models as models_repo
from singa.meta_store import users as users_repo
from singa.meta_store.records import InferenceJobRecord, PredictionKeyRecord, TrainJobRecord, UserRecord
from singa.model.knob import deserialize_knob_config, untuned_values
from singa.objectives import DEFAULT_OBJECTIVES, SelectRule
from singa.queues import ServedTrial, ServingChannel, ServingConfig, TrialSpec, delete_job_user

MAX_MODELS = 20
MAX_REPLICAS = 16
MAX_BATCH_SIZE = 1024
MAX_WAIT_MS = 1000.0
KEY_NAME_LENGTH = 100
DESCRIPTION_LENGTH = 1000


@dataclass(frozen=True)
class NewInferenceJob:
    app: str
    app_version: int = -1
    budget: dict = field(default_factory=dict)
    models_per_template: int = 1
    max_models: Optional[int] = None
    replicas: int = 1
    ensemble: EnsembleMethod = EnsembleMethod.AUTO
    is_public: bool = False
    description: str = ''
    max_batch_size: Optional[int] = None     # default: settings.predictor_max_batch_size
    max_wait_ms: Optional[float] = None      # default: settings.predictor_max_wait_ms
    select: Optional[SelectRule] = None      # deploy the one trial this rule picks, not the best of each template


@dataclass(frozen=True)
class NewCheckpointJob:
    model_name: str
    knobs: Optional[dict] = None             # default: the template's FixedKnob values (all must be)
    budget: dict = field(default_factory=dict)
    replicas: int = 1
    is_public: bool = False
    description: str = ''
    max_batch_size: Optional[int] = None
    max_wait_ms: Optional[float] = None


CHECKPOINT_VERSION = 1      # a checkpoint job's app version (its app is the template's name)


@dataclass(frozen=True)
class InferenceJobView:
    job: InferenceJobRecord
    app: str
    app_version: int
    predictor_url: Optional[str]
    workers: list    # [{trial_id, model_name, score, replicas, status}]


class InferenceJobService:
    def __init__(self, store, settings, deployer: Deployer, redis_client):
        self.store = store
        self.settings = settings
        self.deployer = deployer
        self.r = redis_client

    # -- create ----------------------------------------------------------------------------------

    def create_inference_job(self, actor: UserRecord, new: NewInferenceJob) -> InferenceJobView:
        gpus = self._check(new)
        with self.store.transaction() as cur:
            train_job = train_jobs.get_train_job_by_app(cur, actor.id, new.app, new.app_version)
            if train_job is None:
                raise NotFoundError(f'no train job {new.app!r} version {new.app_version}', resource='train_job')
            if train_job.status not in TrainJobStatus.FINISHED:
                raise ConflictError(f'train job {new.app} v{train_job.app_version} is {train_job.status}; '
                                    'deploy it once it has stopped', resource='train_job', id=train_job.id, field='app')
            cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'inference:{train_job.id}',))
            live = inference_jobs.get_for_train_job(cur, train_job.id)
            if live is not None and live.status in InferenceJobStatus.LIVE:
                raise ConflictError(f'train job {new.app} v{train_job.app_version} already has a live inference job; '
                                    'stop it first', resource='inference_job', id=live.id)
            chosen = self._choose_trials(cur, train_job, new)
            code_policy.check_owners(cur, self.settings, {trial.model_id for trial, _ in chosen})
            job, to_deploy = self._record(
                cur, actor, new, gpus, [(trial.id, {'model_name': model['name'], 'score': trial.score,
                                                    'metrics': trial.values},
                                         model['docker_image']) for trial, model in chosen],
                {'models_per_template': new.models_per_template, 'max_models': new.max_models,
                 'ensemble': new.ensemble.value, **({'select': new.select.to_dict()} if new.select else {})},
                train_job_id=train_job.id)
            events.record_event(cur, EventKind.INFERENCE_JOB_CREATED, job_id=job.id, subject_id=job.id,
                                actor_id=actor.id,
                                data={'train_job_id': str(train_job.id), 'trials': [str(t.id) for t, _ in chosen]})
        self.publish(job.id)
        self._deploy(job, to_deploy)
        return self.get_by_id(actor, job.id)

    def create_checkpoint_job(self, actor: UserRecord, new: NewCheckpointJob) -> InferenceJobView:
        """Deploy the caller's template ``new.model_name`` with the checkpoint uploaded with it."""
        gpus = self._check(new)
        with self.store.transaction() as cur:
            model = models_repo.get_model_by_name(cur, actor.id, new.model_name)
            if model is None:
                raise NotFoundError(f'you have no model template named {new.model_name!r}', resource='model',
                                    field='model_name')
            if model.checkpoint_params_id is None:
                raise ConflictError(f'the template {model.name!r} was uploaded without trained parameters; upload '
                                    'it again with a checkpoint (checkpoint_id) to deploy it with no train job',
                                    resource='model', id=model.id, field='model_name')
            knobs = untuned_values(deserialize_knob_config(model.knob_config), new.knobs or {})
            cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'inference:{model.id}',))
            live = inference_jobs.get_for_model(cur, model.id)
            if live is not None and live.status in InferenceJobStatus.LIVE:
                raise ConflictError(f'the template {model.name!r} already has a live checkpoint inference job; stop '
                                    'it first', resource='inference_job', id=live.id)
            code_policy.check_owners(cur, self.settings, {model.id})
            job, to_deploy = self._record(
                cur, actor, new, gpus, [(None, {'model_name': model.name, 'model_id': str(model.id), 'score': None},
                                         model.docker_image)], {'ensemble': EnsembleMethod.AUTO.value, 'knobs': knobs},
                model_id=model.id)
            events.record_event(cur, EventKind.INFERENCE_JOB_CREATED, job_id=job.id, subject_id=job.id,
                                actor_id=actor.id, data={'model_id': str(model.id), 'checkpoint': True})
        self.publish(job.id)
        self._deploy(job, to_deploy)
        return self.get_by_id(actor, job.id)

    def _record(self, cur, actor: UserRecord, new, gpus: int, served: list, config: dict,
                **source) -> tuple[InferenceJobRecord, list]:
        """Check the quota, then record a job (``source``: its ``train_job_id`` or ``model_id``), its
        predictor and one inference service per ``served`` entry ``(trial id or None, info, image)``
        with ``new.replicas`` each and the GPUs split between them. Returns the job and the
        ``(service, image)`` pairs to deploy, workers first."""
        quotas.check(cur, self.settings, actor, running_jobs=1, workers=len(served) * new.replicas,
                     gpus=gpus * new.replicas)
        config = {**config, 'replicas': new.replicas,
                  'max_batch_size': new.max_batch_size or self.settings.predictor_max_batch_size,
                  'max_wait_ms': self.settings.predictor_max_wait_ms if new.max_wait_ms is None else new.max_wait_ms}
        job = inference_jobs.insert_inference_job(cur, owner_id=actor.id, budget={'GPU_COUNT': gpus}, config=config,
                                                  is_public=new.is_public, description=new.description, **source)
        manager = self.settings.container_manager
        predictor = services.insert_service(cur, service_type=ServiceType.PREDICT.value, job_id=job.id,
                                            container_manager=manager)
        inference_jobs.set_predictor_service(cur, job.id, predictor.id)
        workers = [(services.insert_service(cur, service_type=ServiceType.INFERENCE.value, job_id=job.id,
                                            trial_id=trial_id, replicas=new.replicas, gpus=worker_gpus,
                                            container_manager=manager, info=info), image)
                   for (trial_id, info, image), worker_gpus in zip(served, split_evenly(gpus, len(served)))]
        return job, workers + [(predictor, None)]

    def _check(self, new) -> int:
        """The job's GPUs. The fields are of their types and in their ranges (``INFERENCE_RANGES``,
        ``MAX_GPU_COUNT``): the route parsed them so."""
        gpus = (new.budget or {}).get(BudgetKey.GPU_COUNT.value, 0)
        if gpus and self.settings.container_manager == ContainerManagerType.PROCESS:
            raise ConflictError('this platform runs workers as local processes (SINGA_CONTAINER_MANAGER=process), '
                                'which cannot place GPUs; use GPU_COUNT 0', field='budget')
        return gpus

    def _choose_trials(self, cur, train_job: TrainJobRecord, new: NewInferenceJob) -> list:
        """The best trials with saved parameters: ``models_per_template`` of every template that has one
        (the bests of all templates before any second best), at most ``max_models`` in all, of those
        meeting the job's own constraints; or, by ``new.select``, the one trial its rule picks."""
        if new.select is not None:
            chosen = [self._selected(cur, train_job.id, new.select)]
        else:
            chosen = trials.best_trials_of_each_template(cur, train_job.id, new.models_per_template,
                                                         constraints=train_job.constraints)
            chosen = chosen[:new.max_models or MAX_MODELS]
        if not chosen and train_job.constraints and trials.best_trials_of_train_job(cur, train_job.id, 1):
            self._unmet(cur, train_job.id, SelectRule(DEFAULT_OBJECTIVES[0], train_job.constraints), 'app')
        if not chosen:
            raise ConflictError('the train job has no completed trial with saved parameters to deploy',
                                resource='train_job', id=train_job.id, field='app')
        cur.execute('SELECT id, name, model_class, file_kind, file_name, store_path, docker_image FROM models'
                    ' WHERE id = ANY(%s)', (list({t.model_id for t in chosen}),))
        models = {row['id']: row for row in cur.fetchall()}
        return [(t, models[t.model_id]) for t in chosen]

    def _selected(self, cur, train_job_id, rule: SelectRule):
        """The completed trial with saved parameters that ``rule`` picks (ties: ``singa.ranking``'s
        order); 409 naming the bounds (and the nearest figure there is) when none meets them."""
        found = [t for t in trials.completed_trials_of_train_job(cur, train_job_id) if t.params_id]
        picked = rule.pick([t.values for t in found])
        if picked is not None:
            return found[picked]
        self._unmet(cur, train_job_id, rule, 'select')

    @staticmethod
    def _unmet(cur, train_job_id, rule: SelectRule, field: str) -> NoReturn:
        """A 409 naming ``field`` that says why no completed trial with saved parameters meets ``rule``:
        none has the objective's value, or none meets its bounds (named, with the nearest figure)."""
        values = [t.values for t in trials.completed_trials_of_train_job(cur, train_job_id) if t.params_id]
        name = rule.objective.name
        if not any(name in v for v in values):
            raise ConflictError(f'no completed trial with saved parameters has a value of {name!r} to '
                                f'{rule.objective.direction.value}', resource='train_job', id=train_job_id,
                                field=field)
        unmet = [c for c in rule.where if not any(c.violation(v) == 0 for v in values)] or list(rule.where)
        nearest = ', '.join(f'{c.name} nearest {_nearest(values, c)}' for c in unmet)
        what = 'constraint' if field == 'select' else "train job's constraint"
        raise ConflictError(f'no completed trial with saved parameters meets the {what} '
                            f'{" and ".join(c.describe() for c in rule.where)} ({nearest})',
                            resource='train_job', id=train_job_id, field=field)

    def publish(self, job_id) -> None:
        """Write what the job serves to Redis (idempotent: the reconciler repeats it after a Redis loss).
        The prediction keys are published only while the owner is not banned."""
        with self.store.transaction() as cur:
            job = inference_jobs.get_inference_job(cur, job_id)
            owner = users_repo.get_user(cur, job.owner_id)
            rows = [s for s in services.list_services(cur, job_id=job_id, service_type=ServiceType.INFERENCE.value)]
            specs, served = {}, []
            for service in rows:
                trial = trials.get_trial(cur, service.trial_id) if not job.is_checkpoint else None
                model = models_repo.get_model(cur, trial.model_id if trial else job.model_id, include_deleted=True)
                specs[service.served_id] = TrialSpec(
                    model_path=model.store_path, model_class=model.model_class, file_kind=model.file_kind,
                    module_file=model.file_name, sha256=model.file_sha256, env=model.env_key,
                    knobs=trial.knobs if trial else job.config['knobs'],
                    params_id=trial.params_id if trial else model.checkpoint_params_id)
                served.append(ServedTrial(service.served_id, model.name, trial.score if trial else None,
                                          service.replicas))
            if job.is_checkpoint:
                task = models_repo.get_model(cur, job.model_id, include_deleted=True).task
            else:
                task = train_jobs.get_train_job(cur, job.train_job_id).task
            hashes = [k.key_hash for k in inference_jobs.list_keys(cur, job_id) if k.revoked_at is None]
        if owner is None or owner.is_banned:
            hashes = []         # a banned owner's job answers no key, not even the admin's own
        else:
            hashes.append(hashlib.sha256(self.internal_key(job_id).encode()).hexdigest())
        ensure_job_redis_user(self.settings, self.r, ServiceType.PREDICT.value, job_id)
        config = ServingConfig(tuple(served), ensemble=job.config.get('ensemble', 'AUTO'), task=task,
                               is_public=job.is_public, max_batch_size=job.config.get('max_batch_size'),
                               max_wait_ms=job.config.get('max_wait_ms'))
        ServingChannel(self.r, job_id).publish(config, specs, hashes)

    def internal_key(self, job_id) -> str:
        """The admin's own prediction key for a job (for the playground proxy); derived, never stored."""
        return hmac.new(self.settings.token_secret.encode(), f'predict:{job_id}'.encode(), hashlib.sha256).hexdigest()

    def _deploy(self, job: InferenceJobRecord, to_deploy: list) -> None:
        try:
            self.deployer.deploy_all(to_deploy)
        except SingaError as e:
            end = JobEnd(EndCause.DEPLOY_FAILED, e.message)
            with self.store.transaction() as cur:
                for service, _ in to_deploy:
                    services.set_service_status(cur, service.id, ServiceStatus.ERRORED.value, error=end.reason)
                end_inference_job(cur, job.id, end)
            self.clean_up(job.id)
            raise ServiceUnavailableError(end.reason, resource='inference_job', id=job.id) from e

    # -- read ------------------------------------------------------------------------------------

    def get_by_id(self, actor: UserRecord, job_id) -> InferenceJobView:
        with self.store.transaction() as cur:
            job = self._visible(cur, actor, job_id)
            return self._view(cur, job)

    def get_inference_job(self, actor: UserRecord, app: str, app_version: int = -1,
                          owner_id: Optional[uuid.UUID] = None) -> InferenceJobView:
        """The live inference job of an app version, else its latest (an admin may name the owner): the
        train job's, else the checkpoint job of the template of that name (version 1)."""
        with self.store.transaction() as cur:
            owner = owner_of(actor, owner_id)
            train_job = train_jobs.get_train_job_by_app(cur, owner, app, app_version)
            job = inference_jobs.get_for_train_job(cur, train_job.id) if train_job is not None else None
            if job is None and app_version in (-1, CHECKPOINT_VERSION):
                model = models_repo.get_model_by_name(cur, owner, app)
                job = inference_jobs.get_for_model(cur, model.id) if model is not None else None
            if job is None:
                raise NotFoundError(f'no inference job for {app!r} version {app_version}', resource='inference_job')
            return self._view(cur, job)

    def list_inference_jobs(self, actor: UserRecord, *, app: Optional[str] = None,
                            owner_id: Optional[uuid.UUID] = None) -> list[InferenceJobView]:
        with self.store.transaction() as cur:
            jobs = inference_jobs.list_inference_jobs(cur, owner_id=owner_of(actor, owner_id), app=app)
            return [self._view(cur, job) for job in jobs]

    def _visible(self, cur, actor: UserRecord, job_id, for_update: bool = False) -> InferenceJobRecord:
        job = inference_jobs.get_inference_job(cur, job_id, for_update=for_update)
        if job is None or (job.owner_id != actor.id and actor.user_type not in ADMIN_TYPES):
            raise NotFoundError('no such inference job', resource='inference_job', id=job_id)
        return job

    def _view(self, cur, job: InferenceJobRecord) -> InferenceJobView:
        if job.is_checkpoint:
            app, version = models_repo.get_model(cur, job.model_id, include_deleted=True).name, CHECKPOINT_VERSION
        else:
            train_job = train_jobs.get_train_job(cur, job.train_job_id)
            app, version = train_job.app, train_job.app_version
        rows = services.list_services(cur, job_id=job.id)
        predictor = next((s for s in rows if s.service_type == ServiceType.PREDICT), None)
        url = None
        if predictor is not None and predictor.ext_port and job.status in InferenceJobStatus.LIVE:
            url = f'http://{predictor.ext_hostname or "127.0.0.1"}:{predictor.ext_port}'
        workers = [{'trial_id': str(s.trial_id) if s.trial_id else None, 'model_id': s.info.get('model_id'),
                    'model_name': s.info.get('model_name', ''), 'score': s.info.get('score'),
                    'metrics': s.info.get('metrics'),
                    'replicas': s.replicas, 'status': s.status}
                   for s in rows if s.service_type == ServiceType.INFERENCE]
        return InferenceJobView(job, app, version, url, workers)

    # -- stop ------------------------------------------------------------------------------------

    def stop_inference_job(self, actor: UserRecord, app: str, app_version: int = -1,
                           owner_id: Optional[uuid.UUID] = None) -> InferenceJobView:
        view = self.get_inference_job(actor, app, app_version, owner_id)
        return self.stop_by_id(actor, view.job.id)

    def stop_by_id(self, actor: UserRecord, job_id, cause: EndCause = EndCause.USER_STOP) -> InferenceJobView:
        with self.store.transaction() as cur:
            job = self._visible(cur, actor, job_id, for_update=True)
            end_inference_job(cur, job.id, JobEnd(cause), actor_id=actor.id)
        self.clean_up(job.id)
        return self.get_by_id(actor, job.id)

    def stop_all(self, actor: UserRecord) -> list:
        with self.store.transaction() as cur:
            live = inference_jobs.list_inference_jobs(cur, statuses=InferenceJobStatus.LIVE)
        for job in live:
            self.stop_by_id(actor, job.id)
        return [job.id for job in live]

    # -- a banned owner ----------------------------------------------------------------------------

    def withhold_owner(self, actor: UserRecord, owner_id) -> None:
        """The owner is banned: their private live jobs refuse every key, their public ones are stopped.
        The predictors check keys in Redis (a key they accepted is trusted for at most 2 s more)."""
        for job in self._live_jobs_of(owner_id):
            if job.is_public:
                self.stop_by_id(actor, job.id, EndCause.OWNER_BANNED)
            else:
                self.publish(job.id)

    def restore_owner(self, owner_id) -> None:
        """The owner is unbanned: their live jobs accept their keys again."""
        for job in self._live_jobs_of(owner_id):
            self.publish(job.id)

    def _live_jobs_of(self, owner_id) -> list[InferenceJobRecord]:
        with self.store.transaction() as cur:
            return inference_jobs.list_inference_jobs(cur, owner_id=owner_id, statuses=InferenceJobStatus.LIVE)

    def clean_up(self, job_id) -> None:
        """Remove every service, queue, key set and the Redis user of an ended inference job."""
        with self.store.transaction() as cur:
            live = services.list_services(cur, job_id=job_id, live_only=True)
        for service in live:
            try:
                self.deployer.destroy(service, timeout=5)
            except SingaError:
                continue
            with self.store.transaction() as cur:
                services.set_service_status(cur, service.id, ServiceStatus.STOPPED.value)
        ServingChannel(self.r, job_id).cleanup()
        delete_job_user(self.r, job_redis_credentials(self.settings, ServiceType.PREDICT.value, job_id)[0])

    # -- prediction keys -------------------------------------------------------------------------

    def create_key(self, actor: UserRecord, app: str, app_version: int, name: str) -> tuple[PredictionKeyRecord, str]:
        view = self.get_inference_job(actor, app, app_version)
        key = 'sk_' + secrets.token_urlsafe(32)
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self.store.transaction() as cur:
            record = inference_jobs.insert_key(cur, view.job.id, name, digest)
        if view.job.status in InferenceJobStatus.LIVE:
            ServingChannel(self.r, view.job.id).add_key(digest)
        return record, key

    def list_keys(self, actor: UserRecord, app: str, app_version: int) -> list[PredictionKeyRecord]:
        view = self.get_inference_job(actor, app, app_version)
        with self.store.transaction() as cur:
            return inference_jobs.list_keys(cur, view.job.id)

    def revoke_key(self, actor: UserRecord, app: str, app_version: int, key_id: uuid.UUID) -> PredictionKeyRecord:
        view = self.get_inference_job(actor, app, app_version)
        with self.store.transaction() as cur:
            record = inference_jobs.revoke_key(cur, view.job.id, key_id)
        if record is None:
            raise NotFoundError('no such prediction key', resource='prediction_key', id=key_id)
        ServingChannel(self.r, view.job.id).remove_key(record.key_hash)
        return record

    # -- the playground --------------------------------------------------------------------------

    def predict(self, actor: UserRecord, app: str, app_version: int, body: dict) -> tuple[dict, int]:
        """Forward a prediction request to the job's predictor with the admin's own key."""
        view = self.get_inference_job(actor, app, app_version)
        if view.job.status not in InferenceJobStatus.LIVE:
            raise ConflictError(f'the inference job is {view.job.status}', resource='inference_job', id=view.job.id)
        with self.store.transaction() as cur:
            predictor = services.get_service(cur, view.job.predictor_service_id)
        if predictor is None or not predictor.port:
            raise ServiceUnavailableError('the predictor has not started yet', resource='predictor')
        url = f'http://{predictor.hostname or "127.0.0.1"}:{predictor.port}/predict'
        try:
            response = requests.post(url, json=body, timeout=self.settings.predictor_timeout_seconds + 10,
                                     headers={'Authorization': f'Bearer {self.internal_key(view.job.id)}'})
        except requests.RequestException as e:
            raise ServiceUnavailableError(f'the predictor did not answer: {e}', resource='predictor') from e
        try:
            answer = response.json()
        except ValueError:
            raise ServiceUnavailableError(f'the predictor answered HTTP {response.status_code}',
                                          resource='predictor') from None
        if response.status_code != 200:
            error = answer.get('error', {}) if isinstance(answer, dict) else {}
            raise SingaError.from_dict(error, status_code=response.status_code)
        return answer, response.status_code

    # -- the reconciler's round --------------------------------------------------------------------

    def reconcile(self) -> None:
        """Roll live jobs' statuses up from their services; re-publish lost Redis state; clean ended jobs."""
        with self.store.transaction() as cur:
            live = inference_jobs.list_inference_jobs(cur, statuses=InferenceJobStatus.LIVE)
            cur.execute("SELECT DISTINCT s.job_id FROM services s JOIN inference_jobs i ON i.id = s.job_id"
                        " WHERE i.status = ANY(%s) AND s.status = ANY(%s)",
                        (list(InferenceJobStatus.FINISHED), list(ServiceStatus.LIVE)))
            ended = [row['job_id'] for row in cur.fetchall()]
        for job_id in ended:
            self.clean_up(job_id)
        for job in live:
            self._roll_up(job)

    def _roll_up(self, job: InferenceJobRecord) -> None:
        channel = ServingChannel(self.r, job.id)
        if channel.config() is None:
            self.publish(job.id)
        with self.store.transaction() as cur:
            rows = services.list_services(cur, job_id=job.id)
        predictor = next((s for s in rows if s.service_type == ServiceType.PREDICT), None)
        workers = [s for s in rows if s.service_type == ServiceType.INFERENCE]
        live = channel.live_trials(s.served_id for s in workers)
        healthy = bool(channel.live_predictors())     # predictors renew a heartbeat while their threads work
        with self.store.transaction() as cur:
            ended = roll_up_inference_job(cur, job, predictor, workers, live, predictor_healthy=healthy)
        if ended is not None:
            self.clean_up(job.id)


def _nearest(values: list, constraint) -> object:
    """The measured value of the trial nearest to meeting ``constraint`` ("absent": none was measured)."""
    measured = [v for v in values if constraint.name in v]
    return min(measured, key=constraint.violation)[constraint.name] if measured else 'absent'
