"""Turns recorded services into running ones through the container manager.

Who gets what (the trust table of ARCHITECTURE.md):

- the advisor (runs no user code): the database, the default Redis user;
- train and inference workers (run user code) and predictors: only a Redis user scoped to their
  job's keys, whose password is derived from the token secret and the job id (so the admin can
  re-create it at any time and no worker can derive another job's), and the shared storage.

No worker that runs user code gets the database password, the token secret or the superadmin's
password: the container manager adds nothing of the admin's own environment.
"""
import hashlib
import hmac
import logging
import os
import posixpath
import re
import uuid
from concurrent.futures import CancelledError, ThreadPoolExecutor, as_completed
from typing import Optional

from singa.constants import ServiceStatus, ServiceType
from singa.container.base import Confinement, ContainerService, ServiceSpec
from singa.container.storage import STORAGE_TARGET, job_log_dir, job_mounts
from singa.envs.store import ENVS_DIR
from singa.errors import SingaError
from singa.meta_store import models, services, train_jobs, trials
from singa.meta_store.records import ServiceRecord
from singa.param_store import param_scope, params_relative_path, scope_relative_path
from singa.queues import ensure_job_user, inference_job_prefix, train_job_prefix

log = logging.getLogger(__name__)

_COMMANDS = {
    ServiceType.ADVISOR: ['-m', 'singa.workers', 'advisor'],
    ServiceType.TRAIN: ['-m', 'singa.workers', 'train'],
    ServiceType.INFERENCE: ['-m', 'singa.workers', 'inference'],
    ServiceType.PREDICT: ['-m', 'singa.workers.predictor'],
}
PREDICTOR_PORT = 3003


def job_redis_credentials(settings, service_type: str, job_id) -> tuple[str, str]:
    """(username, password) of the Redis user scoped to one job."""
    kind = 'ij' if service_type in (ServiceType.INFERENCE, ServiceType.PREDICT) else 'tj'
    username = f'singa-{kind}-{job_id}'
    password = hmac.new(settings.token_secret.encode(), f'redis:{username}'.encode(), hashlib.sha256).hexdigest()
    return username, password


def ensure_job_redis_user(settings, redis_client, service_type: str, job_id) -> None:
    username, password = job_redis_credentials(settings, service_type, job_id)
    is_inference = service_type in (ServiceType.INFERENCE, ServiceType.PREDICT)
    prefix = inference_job_prefix(job_id) if is_inference else train_job_prefix(job_id)
    ensure_job_user(redis_client, username, hashlib.sha256(password.encode()).hexdigest(), prefix)


class Deployer:
    def __init__(self, store, settings, manager, redis_client):
        self.store = store
        self.settings = settings
        self.manager = manager
        self.r = redis_client

    def environment(self, service: ServiceRecord) -> dict:
        s = self.settings
        env = {'SINGA_SERVICE_ID': str(service.id), 'SINGA_SERVICE_TYPE': service.service_type,
               'SINGA_JOB_ID': str(service.job_id), 'SINGA_MODE': s.mode,
               'SINGA_REDIS_HOST': s.redis_host, 'SINGA_REDIS_PORT': str(s.redis_port),
               'SINGA_TRIAL_LEASE_SECONDS': str(s.trial_lease_seconds),
               'SINGA_STOP_GRACE_SECONDS': str(s.stop_grace_seconds), 'SINGA_LOG_FORMAT': s.log_format}
        if service.sub_job_id is not None:
            env['SINGA_SUB_JOB_ID'] = str(service.sub_job_id)
        if service.trial_id is not None or service.service_type == ServiceType.INFERENCE:
            env['SINGA_TRIAL_ID'] = service.served_id      # a trial, or a checkpoint job's template
        if service.service_type == ServiceType.ADVISOR:
            env.update(s.to_env(['postgres_host', 'postgres_port', 'postgres_user', 'postgres_password',
                                 'postgres_db', 'max_trial_retries']))
            env.update(s.to_env(['redis_password']) if s.redis_password else {})
            if s.redis_user:
                env.update(s.to_env(['redis_user']))
        else:
            username, password = job_redis_credentials(s, service.service_type, service.job_id)
            env.update({'SINGA_REDIS_USER': username, 'SINGA_REDIS_PASSWORD': password,
                        'SINGA_STORAGE_DIR': self.storage_target()})
            if service.service_type in (ServiceType.TRAIN, ServiceType.INFERENCE):
                # Where the worker runs model code: its own sandbox on this machine (process mode),
                # or a child in the locked-down container itself (Swarm).
                env['SINGA_SANDBOX'] = s.sandbox if s.container_manager == 'process' else 'container'
                env.update(s.to_env(['single_user', 'sandbox_memory_mb', 'sandbox_max_pids', 'sandbox_tmp_mb',
                                     'max_model_bytes']))
            if service.service_type == ServiceType.INFERENCE:
                env.update({'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'})
                env.update(s.to_env(['predictor_timeout_seconds']))
            if service.service_type == ServiceType.PREDICT:
                env.update(s.to_env(['predictor_max_batch_size', 'predictor_max_wait_ms', 'predictor_timeout_seconds',
                                     'predictor_replica_timeout', 'predictor_max_body_bytes',
                                     'predictor_max_queries', 'predictor_max_depth', 'predictor_max_image_pixels']))
        if service.service_type == ServiceType.PREDICT and s.metrics_token:
            env.update(s.to_env(['metrics_token']))      # the predictor's /metrics asks for it too
        return env

    def storage_target(self) -> str:
        """Where workers see the shared storage: the same path as the admin, or /storage in containers."""
        return self.settings.storage_dir if self.settings.container_manager == 'process' else STORAGE_TARGET

    def job_files(self, service: ServiceRecord) -> tuple[list, list]:
        """(read-only files and folders, writable folders) a worker that runs model code needs,
        relative to the storage root: its template, its dependencies' environment if it has one,
        and its datasets (train) or its trial's parameters or checkpoint (inference); train workers
        write their sub-job's parameter folder."""
        with self.store.transaction() as cur:
            if service.service_type == ServiceType.TRAIN:
                spec = train_jobs.sub_job_spec(cur, service.sub_job_id)
                scope = scope_relative_path(param_scope(service.sub_job_id))
                os.makedirs(os.path.join(self.settings.storage_dir, scope), exist_ok=True)
                return [spec['model_path'], *_env_dir(spec['env_key']), spec['train_dataset_path'],
                        spec['val_dataset_path']], [scope]
            if service.trial_id is None:          # a checkpoint job's: the template and its checkpoint
                model = models.get_model(cur, uuid.UUID(service.info['model_id']), include_deleted=True)
                return [model.store_path, *_env_dir(model.env_key),
                        params_relative_path(model.checkpoint_params_id)], []
            trial = trials.get_trial(cur, service.trial_id)
            cur.execute('SELECT store_path, env_key FROM models WHERE id = %s', (trial.model_id,))
            model = cur.fetchone()
            return [model['store_path'], *_env_dir(model['env_key']), params_relative_path(trial.params_id)], []

    def confinement(self, service: ServiceRecord) -> Optional[Confinement]:
        """How a manager that isolates whole services (Swarm) confines one that runs model code."""
        if service.service_type not in (ServiceType.TRAIN, ServiceType.INFERENCE):
            return None
        s = self.settings
        return Confinement(memory_mb=s.sandbox_memory_mb, max_pids=s.sandbox_max_pids, tmp_mb=s.sandbox_tmp_mb)

    def spec(self, service: ServiceRecord, image: Optional[str] = None,
             avoid_ports: frozenset = frozenset()) -> ServiceSpec:
        s = self.settings
        mounts = ()
        runs_model_code = service.service_type in (ServiceType.TRAIN, ServiceType.INFERENCE)
        if s.container_manager != 'process' and runs_model_code:
            mounts = job_mounts(s, *self.job_files(service))
        return ServiceSpec(
            name=service_name(service), service_type=service.service_type,
            command=list(_COMMANDS[ServiceType(service.service_type)]), environment=self.environment(service),
            image=image or (s.predictor_image if service.service_type == ServiceType.PREDICT else s.worker_image),
            replicas=service.replicas, gpus=service.gpus, mounts=mounts,
            publish_port=PREDICTOR_PORT if service.service_type == ServiceType.PREDICT else None,
            avoid_ports=avoid_ports,
            labels={'singa.service_id': str(service.id), 'singa.job_id': str(service.job_id),
                    'singa.service_type': service.service_type},
            restart=True, max_restarts=3, confinement=self.confinement(service),
            cpus=s.worker_cpus if runs_model_code else 0.0, memory_mb=s.worker_memory_mb if runs_model_code else 0,
            log_dir=job_log_dir(service.job_id))

    def deploy(self, service: ServiceRecord, image: Optional[str] = None) -> ContainerService:
        """Create the container service of a recorded service and record where it runs."""
        if service.service_type != ServiceType.ADVISOR:
            ensure_job_redis_user(self.settings, self.r, service.service_type, service.job_id)
        avoid_ports = frozenset()
        if service.service_type == ServiceType.PREDICT:
            with self.store.transaction() as cur:
                avoid_ports = services.promised_ports(cur, except_service_id=service.id)
        created = self.manager.create_service(self.spec(service, image, avoid_ports))
        with self.store.transaction() as cur:
            services.set_deployed(cur, service.id, container_service_id=created.id,
                                  container_service_name=created.name, hostname=created.hostname,
                                  port=created.port, ext_hostname=created.ext_hostname,
                                  ext_port=created.ext_port, info=dict(created.info, image=image))
        return created

    def deploy_all(self, to_deploy: list) -> None:
        """Deploy each ``(service, image)``, as many at once as the manager takes
        (``CREATE_CONCURRENCY``); if one fails, remove those already started and re-raise."""
        deployed, failure = [], None
        with ThreadPoolExecutor(max_workers=max(1, min(len(to_deploy), self.manager.CREATE_CONCURRENCY)),
                                thread_name_prefix='deploy') as pool:
            pending = {pool.submit(self.deploy, service, image=image): service for service, image in to_deploy}
            for future in as_completed(pending):
                try:
                    deployed.append((pending[future], future.result()))
                except SingaError as e:
                    failure = failure or e
                    for other in pending:
                        other.cancel()       # those not started yet
                except CancelledError:
                    pass
        if failure is not None:
            for service, created in deployed:
                try:
                    self.manager.destroy_service(created, timeout=2)
                except SingaError as e:
                    log.warning('could not remove service %s after a failed deploy: %s', service.id, e)
            raise failure

    def destroy(self, service: ServiceRecord, timeout: float = 10.0) -> None:
        if service.container_service_id:
            self.manager.destroy_service(container_service_of(service), timeout=timeout)

    def remove(self, service: ServiceRecord) -> bool:
        """Destroy a service of an ended job and record it STOPPED; False (logged) if it could not be."""
        try:
            self.destroy(service)
        except SingaError as e:
            log.warning('could not remove service %s: %s', service.id, e)
            return False
        with self.store.transaction() as cur:
            services.set_service_status(cur, service.id, ServiceStatus.STOPPED.value)
        return True


def container_service_of(service: ServiceRecord) -> ContainerService:
    return ContainerService(id=service.container_service_id, name=service.container_service_name or '',
                            hostname=service.hostname or '', port=service.port, ext_hostname=service.ext_hostname,
                            ext_port=service.ext_port, info=service.info or {})


def _env_dir(env_key: Optional[str]) -> list:
    """The template's environment directory, relative to the storage root (none without one)."""
    return [posixpath.join(ENVS_DIR, env_key)] if env_key else []


def service_name(service: ServiceRecord) -> str:
    """The name of a recorded service's container service (and of its log files)."""
    kind = re.sub(r'[^a-z]', '', service.service_type.lower())
    return f'singa-{kind}-{str(service.id)[:8]}'
