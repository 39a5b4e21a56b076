"""Fixtures for the admin API: an app on the session's PostgreSQL, users of every role, a test
client that fails the test on any 500 answer, and the admin under gunicorn."""
import dataclasses
import os
import subprocess
import sys
import time

import pytest
import requests
from flask.testing import FlaskClient

from admin_helpers import MAX_DATASET_BYTES, MAX_MODEL_BYTES, Api, make_user
from singa.admin import auth
from singa.admin.app import create_app
from singa.constants import UserType
from singa.local.servers import free_port


class NoServerErrorClient(FlaskClient):
    """A test client for which a 500 answer fails the test: no request in the suite may cause one."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if response.status_code == 500:
            pytest.fail(f'the admin answered 500: {response.get_data(as_text=True)}')
        return response


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Hash with a low scrypt cost, as Django's test settings do: the cost is kept in each hash, so
    verifying is unchanged, and a test creating a few users no longer spends 30 ms on each."""
    monkeypatch.setattr(auth, '_SCRYPT_N', 1 << 10)


@pytest.fixture
def admin_settings(settings):
    return dataclasses.replace(settings, max_dataset_bytes=MAX_DATASET_BYTES, max_model_bytes=MAX_MODEL_BYTES,
                               model_check_timeout=20.0)


@pytest.fixture
def app(admin_settings, meta_store):
    app = create_app(admin_settings, meta_store=meta_store, start_reconciler=False)
    app.test_client_class = NoServerErrorClient
    return app


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def superadmin(api):
    return api.superadmin()


def _user(user_type: UserType, email: str):
    @pytest.fixture
    def user(api, superadmin):
        return make_user(api, user_type, email)
    return user


admin_user = _user(UserType.ADMIN, 'admin@example.com')
model_dev = _user(UserType.MODEL_DEVELOPER, 'dev@example.com')
other_dev = _user(UserType.MODEL_DEVELOPER, 'dev2@example.com')
app_dev = _user(UserType.APP_DEVELOPER, 'app@example.com')
other_app_dev = _user(UserType.APP_DEVELOPER, 'app2@example.com')


@pytest.fixture
def admin_server(base_env, meta_store, tmp_path):
    """The admin under gunicorn on the session's servers; yields its port."""
    port = free_port()
    env = dict(os.environ, **base_env, SINGA_STORAGE_DIR=str(tmp_path / 'storage'), SINGA_ADMIN_PORT=str(port))
    log = open(tmp_path / 'gunicorn.log', 'wb')
    # As `singa up` runs it: threaded workers, which keep connections alive (2 s, gunicorn's default).
    proc = subprocess.Popen([sys.executable, '-m', 'gunicorn', '--worker-class', 'gthread', '--workers', '2',
                             '--threads', '4', '--bind', f'127.0.0.1:{port}', '--graceful-timeout', '5',
                             '--no-control-socket', 'singa.admin.app:create_app()'],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    try:
        _wait_healthy(f'http://127.0.0.1:{port}/health', proc, tmp_path / 'gunicorn.log')
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    served = (tmp_path / 'gunicorn.log').read_text()
    assert 'internal error' not in served, served[-3000:]      # no 500 answered over HTTP either


def _wait_healthy(url, proc, log_path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f'gunicorn exited: {log_path.read_text()[-3000:]}')
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):    # not listening yet, or no worker booted yet
            pass
        time.sleep(0.1)
    pytest.fail(f'the admin did not become healthy: {log_path.read_text()[-3000:]}')
