"""The embedded local stack behind ``singa up``, ``singa down`` and ``singa status``.

Everything lives in the data directory (``SINGA_DATA_DIR``, default ``~/.singa``)::

    SINGA_DATA_DIR            marker: this directory belongs to ``singa up`` (``down --purge`` checks it)
    token_secret              the admin's token signing secret (0600), unless SINGA_TOKEN_SECRET is set
    superadmin_password       the superadmin's password (0600): SINGA_SUPERADMIN_PASSWORD or random
    postgres/  redis/         the embedded servers (``singa.local.servers``)
    admin/                    process.json (the gunicorn master)
    services/                 the process container manager's services
    storage/                  shared storage (datasets, parameters, logs) unless SINGA_STORAGE_DIR:
                              the admin's output goes to logs/platform/admin-1.log, each job
                              service's to logs/<job id>/<service>-<replica>.log

Every step is idempotent: ``up`` starts only what is not running, ``down`` stops only what is.
"""
import dataclasses
import os
import shutil
import socket
from typing import Optional

import requests

from singa.config import Settings, current_environment
from singa.container.local_process import ProcessContainerManager
from singa.container.storage import LOGS_DIR, PLATFORM_LOGS
from singa.errors import ConfigError
from singa.local.admin_process import AdminProcess, reachable_host
from singa.local.servers import EmbeddedPostgres, EmbeddedRedis, read_or_create_secret

MARKER = 'SINGA_DATA_DIR'
SERVICE_STOP_TIMEOUT = 10.0


@dataclasses.dataclass
class StackInfo:
    """What ``singa up`` tells the user."""
    admin_url: str
    superadmin_email: str
    superadmin_password: str
    data_dir: str
    started: list
    notes: list
    sandbox: str = ''         # where model code runs: bubblewrap, or none


@dataclasses.dataclass
class ComponentStatus:
    name: str
    running: bool
    pid: Optional[int] = None
    port: Optional[int] = None
    detail: str = ''


class LocalStack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.data_dir = settings.expanded_data_dir
        self.postgres = EmbeddedPostgres(os.path.join(self.data_dir, 'postgres'))
        self.redis = EmbeddedRedis(os.path.join(self.data_dir, 'redis'))
        self.admin = AdminProcess(os.path.join(self.data_dir, 'admin'), log_path=os.path.join(
            settings.storage_dir, LOGS_DIR, PLATFORM_LOGS, 'admin-1.log'))
        self.services = ProcessContainerManager(settings)

    # -- up ------------------------------------------------------------------------------------
    def up(self) -> StackInfo:
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        with open(os.path.join(self.data_dir, MARKER), 'w', encoding='utf-8') as f:
            f.write('This directory belongs to `singa up`; `singa down --purge` deletes it.\n')
        os.makedirs(self.settings.storage_dir, exist_ok=True)
        started, notes = [], []
        for name, server in (('postgres', self.postgres), ('redis', self.redis)):
            if server.running_pid() is None:
                started.append(name)
            server.start()
        password = self._superadmin_password(notes)
        if self.admin.running() is None:
            started.append('admin')
            if not _port_free(self.settings.admin_host, self.settings.admin_port):
                raise ConfigError(f'port {self.settings.admin_port} is in use: choose another with '
                                  f'--port or SINGA_ADMIN_PORT')
        elif self.admin.record().get('port') != self.settings.admin_port:
            notes.append(f"the admin already runs on port {self.admin.record().get('port')}; "
                         f'`singa down` first to move it')
        sandbox = self._sandbox(notes)
        self.admin.start(self.settings, self._admin_env(password))
        return StackInfo(admin_url=self.admin_url(), superadmin_email=self.settings.superadmin_email,
                         superadmin_password=password, data_dir=self.data_dir, started=started,
                         notes=notes, sandbox=sandbox)

    def _sandbox(self, notes: list) -> str:
        """Where model code will run, with a note when it runs without isolation."""
        from singa.sandbox import resolve_sandbox_kind
        kind = resolve_sandbox_kind(self.settings)
        if kind == 'bubblewrap':
            if os.geteuid() == 0:
                from singa.sandbox.bubblewrap import sandbox_user
                sandbox_user()                # made once here, not by concurrent workers
            return kind
        if self.settings.single_user:
            notes.append('no sandbox for model code (bubblewrap is missing or cannot run here): every '
                         "user's templates run unconfined, as asked (--single-user)")
        else:
            notes.append('no sandbox for model code (bubblewrap is missing or cannot run here): only the '
                         "superadmin's templates will run. Install bubblewrap (apt-get install -y bubblewrap) "
                         'and run singa up again, or run singa down and singa up --single-user if every '
                         'user is trusted')
        return kind

    def admin_url(self) -> str:
        port = self.admin.record().get('port', self.settings.admin_port)
        host = self.settings.public_host or reachable_host(self.settings.admin_host)
        return f'http://{host}:{port}'

    def _admin_env(self, superadmin_password: str) -> dict:
        env = current_environment()       # the admin is ours and trusted: it keeps the user's env
        env.update(self.postgres.settings_env())
        env.update(self.redis.settings_env())
        env.update({
            'SINGA_MODE': 'local', 'SINGA_CONTAINER_MANAGER': 'process',
            'SINGA_DATA_DIR': self.data_dir, 'SINGA_STORAGE_DIR': os.path.abspath(self.settings.storage_dir),
            'SINGA_ADMIN_HOST': self.settings.admin_host, 'SINGA_ADMIN_PORT': str(self.settings.admin_port),
            'SINGA_TOKEN_SECRET': self.settings.token_secret
                or read_or_create_secret(os.path.join(self.data_dir, 'token_secret')),
            'SINGA_SUPERADMIN_EMAIL': self.settings.superadmin_email,
            'SINGA_SUPERADMIN_PASSWORD': superadmin_password,
            'SINGA_SINGLE_USER': 'true' if self.settings.single_user else 'false',
        })
        return env

    def _superadmin_password(self, notes: list) -> str:
        """The password the superadmin was first created with: kept in the data dir, taken from
        SINGA_SUPERADMIN_PASSWORD on the first ``up`` or generated."""
        path = os.path.join(self.data_dir, 'superadmin_password')
        given = self.settings.superadmin_password
        if given and not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                f.write(given)
        kept = read_or_create_secret(path)
        if given and given != kept:
            notes.append(f'SINGA_SUPERADMIN_PASSWORD differs from the password the superadmin was '
                         f'created with (kept in {path}); it is ignored')
        return kept

    # -- down ----------------------------------------------------------------------------------
    def down(self, purge: bool = False) -> list:
        """Stop the jobs, the admin, every service left, Redis and PostgreSQL; return what it did.

        The admin is stopped before the remaining services are destroyed, so that its
        reconciler cannot replace services while they go."""
        done = [self._stop_jobs_via_admin()]
        if self.admin.running() is not None:
            self.admin.stop()
            done.append('stopped the admin')
        services = self.services.list_services()
        for service in services:
            self.services.destroy_service(service, timeout=SERVICE_STOP_TIMEOUT)
        if services:
            done.append(f'destroyed {len(services)} service(s)')
        for name, server in (('redis', self.redis), ('postgres', self.postgres)):
            if server.running_pid() is not None:
                server.stop()
                done.append(f'stopped {name}')
        if purge:
            self.purge()
            done.append(f'deleted {self.data_dir}')
        return done

    def _stop_jobs_via_admin(self) -> str:
        if not self.admin.healthy():
            return 'the admin is not answering: no jobs stopped through it'
        base = self.admin.local_url()
        password_path = os.path.join(self.data_dir, 'superadmin_password')
        password = self.settings.superadmin_password
        if os.path.exists(password_path):
            with open(password_path, encoding='utf-8') as f:
                password = f.read().strip()
        try:
            login = requests.post(f'{base}/tokens', json={'email': self.settings.superadmin_email,
                                                          'password': password}, timeout=10)
            if not login.ok:
                return f'could not log in as the superadmin (HTTP {login.status_code}): no jobs stopped'
            answer = requests.post(f'{base}/actions/stop_all_jobs', timeout=120,
                                   headers={'Authorization': f"Bearer {login.json()['token']}"})
        except (requests.RequestException, ValueError, KeyError) as e:
            return f'could not stop the jobs through the admin: {e}'
        if answer.status_code == 404:
            return 'the admin has no /actions/stop_all_jobs: no jobs stopped through it'
        if not answer.ok:
            return f'stopping the jobs failed (HTTP {answer.status_code}): {answer.text[:200]}'
        return 'stopped every job through the admin'

    def purge(self) -> None:
        if not os.path.isdir(self.data_dir):
            return
        if not os.path.exists(os.path.join(self.data_dir, MARKER)):
            raise ConfigError(f'refusing to delete {self.data_dir}: it has no {MARKER} file, so '
                              f'`singa up` did not make it')
        if any(c.running for c in self.status()):
            raise ConfigError(f'refusing to delete {self.data_dir} while parts of the stack run')
        shutil.rmtree(self.data_dir)

    # -- status --------------------------------------------------------------------------------
    def status(self) -> list:
        """The state of PostgreSQL, Redis and the admin (up means answering, for the admin)."""
        pg_pid, redis_pid = self.postgres.running_pid(), self.redis.running_pid()
        admin = self.admin.running()
        healthy = admin is not None and self.admin.healthy()
        return [
            ComponentStatus('postgres', pg_pid is not None, pg_pid, self.postgres.port if pg_pid else None),
            ComponentStatus('redis', redis_pid is not None, redis_pid, self.redis.port if redis_pid else None),
            ComponentStatus('admin', healthy, admin.pid if admin else None,
                            self.admin.record().get('port') if admin else None,
                            self.admin_url() if healthy else
                            ('running but not answering GET /health' if admin else '')),
        ]

    def service_statuses(self) -> list:
        """Each process service of this data dir: id, name, service type and status."""
        return [{'id': s.id, 'name': s.name, 'service_type': s.info['service_type'],
                 'status': str(self.services.get_service_status(s))}
                for s in self.services.list_services()]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False
