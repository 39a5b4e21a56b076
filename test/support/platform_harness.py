"""A whole platform in the test process: the real admin app (Flask test client), the real process
container manager starting real worker processes, the real reconciler thread, and the session's
PostgreSQL and Redis. ``Platform.close`` removes every service it started."""
import concurrent.futures
import dataclasses
import os
import shutil
import time
from typing import Optional

import pytest

from singa.admin import auth
from singa.admin.app import create_app
from singa.config import Settings
from singa.container.local_process import ProcessContainerManager

from database import dump_tables, empty_tables, load_tables

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'examples')
PASSWORD = 'sturdy-lantern-42'   # the password policy refuses the likes of 'password-123'


def running_platform(settings, meta_store, monkeypatch, **changes):
    """The body of a ``platform`` fixture: a Platform with ``changes`` to its settings and cheap
    password hashing for its test users (the cost is kept in each hash), closed after the test."""
    monkeypatch.setattr(auth, '_SCRYPT_N', 1 << 10)
    platform = Platform(settings, meta_store, **changes)
    try:
        yield platform
    finally:
        platform.close()


def prepared_snapshot(base_env, meta_store, storage_dir: str, prepare, **changes) -> 'Snapshot':
    """The snapshot of a fresh platform (empty tables, storage in ``storage_dir``, ``changes`` to its
    settings) once ``prepare(platform)`` has run on it: for a module-scoped fixture that trains a job
    once, restored for each test that needs it."""
    settings = Settings.from_env(base_env, storage_dir=storage_dir)
    empty_tables(meta_store)
    with pytest.MonkeyPatch.context() as monkeypatch:
        platforms = running_platform(settings, meta_store, monkeypatch, **changes)
        platform = next(platforms)
        try:
            prepare(platform)
        finally:
            platforms.close()       # its services removed, so that nothing writes the snapshot's files
    return platform.snapshot()


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A platform's state at rest: every database row, and its storage directory (no longer written).
    Redis is not in it: a platform whose jobs have stopped keeps nothing there that a restore needs."""
    tables: dict[str, str]
    storage_dir: str


class Platform:
    def __init__(self, settings, meta_store, **changes):
        changes = {'trial_lease_seconds': 2.0, 'stop_grace_seconds': 3.0, 'reconcile_interval': 0.3,
                   'model_check_timeout': 20.0, **changes}
        self.settings = dataclasses.replace(settings, **changes)
        self.meta_store = meta_store
        self.manager = ProcessContainerManager(self.settings)
        self.app = self._new_app()
        self.tokens: dict[str, str] = {}

    def _new_app(self):
        app = create_app(self.settings, meta_store=self.meta_store, container_manager=self.manager)
        self.client = app.test_client()
        self.ctx = app.extensions['singa']
        return app

    def restart_admin(self) -> None:
        """What an admin restart looks like: the old app's threads stop, a new app starts from the database."""
        self._stop_threads()
        self.app = self._new_app()

    def close(self) -> None:
        self._stop_threads()
        services = self.manager.list_services({})
        if services:            # all at once: each waits mostly for its processes to exit
            with concurrent.futures.ThreadPoolExecutor(len(services)) as pool:
                list(pool.map(lambda service: self.manager.destroy_service(service, timeout=2), services))

    def snapshot(self) -> Snapshot:
        """The state this platform leaves when closed (call once no service of it runs)."""
        return Snapshot(dump_tables(self.meta_store), self.settings.storage_dir)

    def restore(self, snapshot: Snapshot) -> None:
        """This platform's database rows and storage files replaced by ``snapshot``'s, and its admin
        restarted on them (restore before starting any service: files of its own are kept)."""
        self._stop_threads()        # a reconciler's transaction would deadlock with the truncation
        shutil.copytree(snapshot.storage_dir, self.settings.storage_dir, dirs_exist_ok=True)
        load_tables(self.meta_store, snapshot.tables)
        self.app = self._new_app()
        self.tokens.clear()

    def _stop_threads(self) -> None:
        self.ctx.reconciler.stop()
        self.ctx.webhook_deliverer.stop()

    # -- HTTP --------------------------------------------------------------------------------

    def call(self, method: str, path: str, user: Optional[str] = None, expect: int = 200, **kwargs):
        headers = {'Authorization': f'Bearer {self.tokens[user]}'} if user else {}
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.get_data(as_text=True))
        return response.get_json() if response.mimetype == 'application/json' else response.data

    def login_superadmin(self) -> str:
        body = self.call('POST', '/tokens', json={'email': self.settings.superadmin_email,
                                                  'password': self.settings.superadmin_password})
        self.tokens['superadmin'] = body['token']
        return 'superadmin'

    def make_user(self, name: str, user_type: str = 'MODEL_DEVELOPER') -> str:
        if 'superadmin' not in self.tokens:
            self.login_superadmin()
        email = f'{name}@example.com'
        self.call('POST', '/users', 'superadmin', json={'email': email, 'password': PASSWORD, 'user_type': user_type})
        return self.login(name)

    def login(self, name: str) -> str:
        """A token for the user ``name`` that ``make_user`` made (here or in a restored snapshot)."""
        self.tokens[name] = self.call('POST', '/tokens', json={'email': f'{name}@example.com',
                                                               'password': PASSWORD})['token']
        return name

    def upload_dataset(self, user: str, path: str, task: str = 'TABULAR_CLASSIFICATION') -> str:
        with open(path, 'rb') as f:
            body = self.call('POST', '/datasets', user, data={'name': os.path.basename(path), 'task': task,
                                                              'dataset': (f, os.path.basename(path))})
        return body['id']

    def upload_model(self, user: str, path: str, model_class: str, task: str = 'TABULAR_CLASSIFICATION',
                     access_right: str = 'PRIVATE') -> str:
        with open(path, 'rb') as f:
            body = self.call('POST', '/models', user, data={
                'name': f'{model_class}-{os.path.basename(path)}', 'task': task, 'model_class': model_class,
                'access_right': access_right, 'model_file_bytes': (f, os.path.basename(path))})
        return body['id']

    def create_job(self, user: str, app: str, train_id: str, val_id: str, model_ids: list, budget: dict,
                   expect: int = 200, **extra) -> dict:
        body = {'app': app, 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id, 'val_dataset_id': val_id,
                'budget': budget, 'model_ids': model_ids, **extra}
        return self.call('POST', '/train_jobs', user, expect=expect, json=body)

    def wait_job(self, user: str, app: str, statuses=('STOPPED', 'ERRORED'), timeout: float = 90.0,
                 version: int = -1) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.call('GET', f'/train_jobs/{app}/{version}', user)
            if job['status'] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f'job {app} still {job["status"]} after {timeout} s:\n{self.worker_logs()}')
            time.sleep(0.2)

    def wait_for(self, predicate, timeout: float = 30.0, what: str = 'condition'):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f'timed out waiting for {what}\n{self.worker_logs()}')

    def trials(self, user: str, app: str, version: int = -1) -> list:
        return self.call('GET', f'/train_jobs/{app}/{version}/trials', user)

    def worker_logs(self) -> str:
        """The end of every service's log (logs/<job id>/<service>-<replica>.log)."""
        logs_dir = os.path.join(self.settings.storage_dir, 'logs')
        out = []
        for folder, _, names in sorted(os.walk(logs_dir)):
            for name in sorted(names):
                with open(os.path.join(folder, name), errors='replace') as f:
                    out.append(f'--- {os.path.relpath(os.path.join(folder, name), logs_dir)}\n{f.read()[-3000:]}')
        return '\n'.join(out)

    def live_services(self, job_id: str) -> list:
        with self.meta_store.transaction() as cur:
            cur.execute("SELECT * FROM services WHERE job_id = %s AND status IN ('STARTED', 'DEPLOYING', 'RUNNING')",
                        (job_id,))
            return cur.fetchall()
