"""Settings, read once from the environment (``SINGA_*``) and validated at start-up.

This module is the only reader of ``os.environ`` in SingaAuto. Each process builds one
``Settings`` with ``Settings.from_env()`` and calls ``settings.require(role)`` before it connects
to anything, so that a missing or malformed value stops it with a message naming the variable.

Any setting may instead be given as a file: ``SINGA_<NAME>_FILE=/path`` reads the value from that
file (one trailing newline dropped), which is how Docker Swarm secrets arrive (``/run/secrets/``).
Setting both ``SINGA_<NAME>`` and ``SINGA_<NAME>_FILE`` is an error.
"""
import dataclasses
import os
from dataclasses import dataclass, fields
from typing import Mapping, Optional

from singa.errors import ConfigError

PREFIX = 'SINGA_'
LOG_FORMATS = ('text', 'json')


@dataclass(frozen=True)
class Settings:
    # Where things live.
    mode: str = 'production'                  # 'local' for the embedded stack of `singa up`
    data_dir: str = '~/.singa'                # owned by `singa up`: embedded servers and storage
    storage_dir: str = ''                     # shared storage root; default <data_dir>/storage
    # PostgreSQL (admin and advisor workers only).
    postgres_host: str = 'localhost'
    postgres_port: int = 5432
    postgres_user: str = 'singa'
    postgres_password: str = ''
    postgres_db: str = 'singa'
    postgres_pool_max: int = 10
    # Redis. Workers that run user code get a job-scoped ACL user instead of the default one.
    redis_host: str = 'localhost'
    redis_port: int = 6379
    redis_user: str = ''
    redis_password: str = ''
    # Admin.
    admin_host: str = '127.0.0.1'
    admin_port: int = 3000
    admin_workers: int = 2
    admin_threads: int = 4                    # gthread threads per gunicorn worker
    admin_app: str = 'singa.admin.app:create_app()'   # what gunicorn serves; change only to test
    admin_start_timeout: float = 60.0         # `singa up` waits this long for GET /health
    public_host: str = ''                     # how users reach this host; default admin_host
    token_secret: str = ''
    token_ttl_seconds: int = 3600
    superadmin_email: str = 'superadmin@singaauto'
    superadmin_password: str = ''
    max_dataset_bytes: int = 1 << 30
    max_model_bytes: int = 16 << 20
    max_checkpoint_bytes: int = 256 << 20     # trained parameters uploaded with a template
    dataset_url_networks: str = 'public'      # where a dataset_url may point: 'public' and/or CIDRs (as webhooks)
    dataset_url_timeout_seconds: float = 300.0   # the whole download of a dataset_url
    model_check_timeout: float = 30.0
    model_check_sandbox: str = 'auto'         # 'process', 'container', or 'auto' (container with swarm)
    model_check_memory_mb: int = 2048         # memory a template check may use
    dependency_timeout: float = 600.0         # seconds to resolve and install a template's dependencies
    dependency_max_mb: int = 2048             # most a template's dependencies may take (wheels, installed)
    # Model code (singa.sandbox): where it runs, and what one sandbox may use.
    sandbox: str = 'auto'                     # 'auto', 'bubblewrap', 'container' (Swarm workers), 'none'
    single_user: bool = False                 # one trusted user: templates may run without a sandbox
    sandbox_memory_mb: int = 4096
    sandbox_max_pids: int = 256
    sandbox_tmp_mb: int = 2048                # the sandbox's private /tmp
    reconcile_interval: float = 5.0
    # Containers.
    container_manager: str = 'process'        # 'process' or 'swarm'
    stack_name: str = 'singa'                 # swarm: labels the services of one deployment
    docker_network: str = 'singa'
    worker_network: str = ''                  # swarm: network of services that run model code (Redis only); '' = docker_network
    worker_image: str = 'singa-worker:latest'
    worker_torch_image: str = 'singa-worker-torch:latest'
    predictor_image: str = 'singa-predictor:latest'
    storage_volume: str = ''                  # swarm: volume name or host path mounted as storage
    nfs_server: str = ''
    nfs_path: str = ''
    nfs_options: str = 'nfsvers=4'            # swarm: extra NFS mount options (comma-separated)
    gpu_resource: str = 'NVIDIA-GPU'          # swarm: the generic resource kind nodes advertise GPUs as
    predictor_port_min: int = 31000
    predictor_port_max: int = 31999
    avoid_manager_for_workers: bool = False
    worker_cpus: float = 0.25                 # swarm: CPUs each train or inference worker reserves
    worker_memory_mb: int = 256               # swarm: memory each train or inference worker reserves
    # Train jobs.
    trial_lease_seconds: float = 30.0
    stop_grace_seconds: float = 30.0
    max_trial_retries: int = 2                # re-runs of a trial whose worker died
    # Serving.
    predictor_max_batch_size: int = 32
    predictor_max_wait_ms: float = 5.0
    predictor_timeout_seconds: float = 10.0
    predictor_replica_timeout: float = 2.0   # then a batch a replica took goes to another replica
    predictor_max_body_bytes: int = 32 << 20
    predictor_max_queries: int = 1000        # per request
    predictor_max_depth: int = 32            # nesting levels of one query
    predictor_max_image_pixels: int = 1 << 20   # in all the images of one POST / request
    predictor_threads: int = 32
    predictor_access_log: bool = False
    # Operating the platform: logs, metrics, webhooks, quotas.
    log_format: str = 'text'                  # 'text', or 'json': one JSON object a line (admin, workers, predictors)
    log_file: str = ''                        # a file this process also logs to (set by the container manager)
    metrics_token: str = ''                   # bearer token for GET /metrics (Prometheus); admins' tokens work too
    metrics_public: bool = False              # the admin's /metrics and /metrics/targets answer without a token
    metrics_dir: str = ''                     # where gunicorn's admin workers share counts; default: under /tmp
    webhook_networks: str = 'public'          # where webhooks may point: 'public' and/or CIDRs (127.0.0.0/8, ...)
    webhook_timeout_seconds: float = 5.0      # one delivery attempt
    webhook_max_attempts: int = 8             # then the delivery is FAILED
    webhook_backoff_seconds: float = 2.0      # before the first retry; doubled each time ...
    webhook_max_backoff: float = 600.0        # ... up to this many seconds
    webhook_poll_seconds: float = 1.0         # how often each admin process looks for deliveries due
    quota_running_jobs: int = 10              # defaults of every user's quota (-1: no limit); admins set
    quota_workers: int = 32                   # per-user limits through the API
    quota_gpus: int = 8
    quota_stored_bytes: int = 10 << 30
    # Set by the admin for the worker it starts.
    service_id: str = ''
    service_type: str = ''
    job_id: str = ''
    sub_job_id: str = ''
    trial_id: str = ''
    replica_index: int = 0
    task_id: str = ''                         # set by the container manager: this start of this replica
    service_port: int = 0                     # set by the process manager for published services

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, **overrides) -> 'Settings':
        """Read every ``SINGA_<FIELD>`` variable; ``overrides`` win over the environment."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = _raw_value(environ, PREFIX + f.name.upper())
            if raw is None or raw == '':
                continue
            values[f.name] = _convert(f, raw)
        values.update(overrides)
        settings = cls(**values)
        if not settings.storage_dir:
            settings = dataclasses.replace(
                settings, storage_dir=os.path.join(settings.expanded_data_dir, 'storage'))
        return settings

    @property
    def expanded_data_dir(self) -> str:
        return os.path.abspath(os.path.expanduser(self.data_dir))

    @property
    def is_local(self) -> bool:
        return self.mode == 'local'

    @property
    def postgres_dsn(self) -> str:
        return (f'host={self.postgres_host} port={self.postgres_port} user={self.postgres_user} '
                f'password={self.postgres_password} dbname={self.postgres_db}')

    def require(self, role: str) -> 'Settings':
        """Check what ``role`` needs (``admin``, ``advisor``, ``train``, ``inference``, ``predictor``)."""
        missing = []
        if role in ('admin', 'advisor'):
            missing += [n for n in ('postgres_host', 'postgres_user', 'postgres_db') if not getattr(self, n)]
        if role == 'admin':
            if not self.token_secret:
                missing.append('token_secret')
            elif len(self.token_secret) < 16:
                raise ConfigError('SINGA_TOKEN_SECRET must be at least 16 characters long')
            # Required in every mode: there is no built-in default; `singa up` generates one.
            if not self.superadmin_password:
                missing.append('superadmin_password')
            if self.container_manager not in ('process', 'swarm'):
                raise ConfigError(
                    f'SINGA_CONTAINER_MANAGER must be one of process, swarm; got {self.container_manager!r}')
            if self.sandbox not in ('auto', 'bubblewrap', 'container', 'none'):
                raise ConfigError(f'SINGA_SANDBOX must be one of auto, bubblewrap, container, none; got {self.sandbox!r}')
            if self.sandbox == 'none' and not self.single_user:
                raise ConfigError('SINGA_SANDBOX=none runs every template without isolation: set SINGA_SINGLE_USER=true '
                                  'too if one trusted user is all this installation has')
            if self.dependency_timeout <= 0 or self.dependency_max_mb <= 0:
                raise ConfigError('SINGA_DEPENDENCY_TIMEOUT and SINGA_DEPENDENCY_MAX_MB must be above 0')
            if self.model_check_sandbox not in ('auto', 'process', 'container'):
                raise ConfigError('SINGA_MODEL_CHECK_SANDBOX must be one of auto, process, container; '
                                  f'got {self.model_check_sandbox!r}')
        if role == 'admin' and (self.worker_cpus < 0 or not 0 <= self.worker_memory_mb <= self.sandbox_memory_mb):
            raise ConfigError('SINGA_WORKER_CPUS must be at least 0 and SINGA_WORKER_MEMORY_MB from 0 to '
                              f'SINGA_SANDBOX_MEMORY_MB ({self.sandbox_memory_mb}, the most a worker may use); '
                              f'got {self.worker_cpus:g} and {self.worker_memory_mb}')
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f'SINGA_LOG_FORMAT must be one of {", ".join(LOG_FORMATS)}; got {self.log_format!r}')
        if role in ('admin', 'predictor'):
            self._check_serving()
        if role in ('advisor', 'train', 'inference', 'predictor') and not self.service_id:
            missing.append('service_id')
        if missing:
            names = ', '.join(PREFIX + m.upper() for m in missing)
            raise ConfigError(f'{role} cannot start: set {names}')
        return self

    def _check_serving(self) -> None:
        """The predictor's settings (the admin hands them to every predictor it starts)."""
        if not 0 < self.predictor_replica_timeout < self.predictor_timeout_seconds:
            raise ConfigError('SINGA_PREDICTOR_REPLICA_TIMEOUT must be above 0 and below '
                              f'SINGA_PREDICTOR_TIMEOUT_SECONDS ({self.predictor_timeout_seconds:g}); '
                              f'got {self.predictor_replica_timeout:g}')
        for name in ('predictor_max_body_bytes', 'predictor_max_queries', 'predictor_max_depth',
                     'predictor_max_image_pixels'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{PREFIX}{name.upper()} must be at least 1; got {getattr(self, name)}')

    def to_env(self, names) -> dict:
        """The ``SINGA_*`` variables for the given fields, to hand to a process the admin starts."""
        return {PREFIX + n.upper(): _render(getattr(self, n)) for n in names}


def _raw_value(environ: Mapping[str, str], name: str) -> Optional[str]:
    """``environ[name]``, or the contents of the file named by ``environ[name + '_FILE']``."""
    path = environ.get(name + '_FILE')
    if not path:
        return environ.get(name)
    if environ.get(name):
        raise ConfigError(f'both {name} and {name}_FILE are set; set only one')
    try:
        with open(path, encoding='utf-8') as f:
            value = f.read()
    except OSError as e:
        raise ConfigError(f'{name}_FILE={path} cannot be read: {e.strerror}') from None
    return value[:-1] if value.endswith('\n') else value


def _convert(f: dataclasses.Field, raw: str):
    name = PREFIX + f.name.upper()
    kind = f.type if isinstance(f.type, type) else {'int': int, 'float': float, 'bool': bool}.get(f.type, str)
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in ('1', 'true', 'yes', 'on'):
                return True
            if lowered in ('0', 'false', 'no', 'off'):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise ConfigError(f'{name} must be a {kind.__name__}; got {raw!r}') from None
    return raw


def _render(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def gunicorn_master_pid() -> Optional[int]:
    """The pid of the gunicorn master when this process is one of its workers, else None (gunicorn
    sets ``SERVER_SOFTWARE`` in the master's environment, which its workers inherit)."""
    if not os.environ.get('SERVER_SOFTWARE', '').startswith('gunicorn/'):
        return None
    return os.getppid()


def current_environment() -> dict:
    """A copy of this process's whole environment, for a trusted process it starts (``singa up``
    starting the admin). Never hand it to user code: it may hold secrets."""
    return dict(os.environ)
