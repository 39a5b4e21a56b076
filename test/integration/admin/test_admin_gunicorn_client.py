"""The real thing: the admin under gunicorn (two workers seeding at once), driven by ``Client`` over HTTP."""
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE
from singa.client import Client
from singa.errors import (ConflictError, InvalidDatasetError, InvalidModelError, InvalidRequestError,
                          InvalidTokenError, NotFoundError, ServiceUnavailableError, UnauthenticatedError)
from singa.local.servers import free_port


@pytest.fixture
def admin_server(base_env, meta_store, tmp_path):
    port = free_port()
    env = dict(os.environ, **base_env, SINGA_STORAGE_DIR=str(tmp_path / 'storage'), SINGA_ADMIN_PORT=str(port))
    log = open(tmp_path / 'gunicorn.log', 'wb')
    proc = subprocess.Popen([sys.executable, '-m', 'gunicorn', '--workers', '2', '--bind', f'127.0.0.1:{port}',
                             '--graceful-timeout', '5', '--no-control-socket', 'singa.admin.app:create_app()'],
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


def test_client_against_the_admin_under_gunicorn(admin_server, base_env, tmp_path, monkeypatch):
    monkeypatch.setenv('SINGA_ADMIN_PORT', str(admin_server))
    boss = Client(admin_host='127.0.0.1')                     # the port comes from the environment
    assert boss.get_current_user() is None
    me = boss.login(base_env['SINGA_SUPERADMIN_EMAIL'], base_env['SINGA_SUPERADMIN_PASSWORD'])
    assert me['user_type'] == 'SUPERADMIN' and boss.get_current_user()['id'] == me['id']
    boss.create_user('dev@example.com', 'dev-password', 'MODEL_DEVELOPER')
    with pytest.raises(ConflictError) as conflict:
        boss.create_user('dev@example.com', 'dev-password', 'MODEL_DEVELOPER')
    assert conflict.value.status_code == 409 and conflict.value.field == 'email'
    assert sorted(u['email'] for u in boss.get_users()) == ['dev@example.com', 'superadmin@singaauto']

    dev = Client('127.0.0.1', admin_server)
    dev.login('dev@example.com', 'dev-password')
    csv_path = tmp_path / 'train.csv'
    csv_path.write_bytes(CLASSIFICATION_CSV)
    dataset = dev.create_dataset('train', 'TABULAR_CLASSIFICATION', str(csv_path))
    assert dataset['stat']['rows'] == 3 and dataset['size_bytes'] == len(CLASSIFICATION_CSV)
    assert [d['id'] for d in dev.get_datasets(task='TABULAR_CLASSIFICATION')] == [dataset['id']]
    assert dev.get_datasets(task='TABULAR_REGRESSION') == []
    assert dev.get_dataset(dataset['id']) == dataset
    with pytest.raises(InvalidDatasetError) as bad_dataset:
        dev.create_dataset('images', 'IMAGE_CLASSIFICATION', str(csv_path))
    assert bad_dataset.value.status_code == 400 and 'zip' in bad_dataset.value.message

    model_path = tmp_path / 'good_model.py'
    model_path.write_bytes(GOOD_TEMPLATE)
    model = dev.create_model('good', 'TABULAR_CLASSIFICATION', str(model_path), 'Good',
                             dependencies={'numpy': '1.26.4'}, access_right='PUBLIC', model_description='demo')
    assert model['dependencies'] == ['numpy==1.26.4'] and model['knob_config']['knobs']
    assert [m['name'] for m in dev.get_available_models('TABULAR_CLASSIFICATION')] == ['good']
    assert dev.get_model(model['id']) == model
    out = dev.download_model_file(model['id'], str(tmp_path / 'downloaded.py'))
    assert open(out, 'rb').read() == GOOD_TEMPLATE
    broken = tmp_path / 'broken.py'
    broken.write_text('class Good(:\n')
    with pytest.raises(InvalidModelError) as bad_model:
        dev.create_model('broken', 'TABULAR_CLASSIFICATION', str(broken), 'Good')
    assert bad_model.value.status_code == 400 and 'syntax error' in bad_model.value.message
    with pytest.raises(InvalidRequestError) as bad_field:
        dev.create_model('x', 'TABULAR_CLASSIFICATION', str(model_path), 'Good', dependencies=['--pre'])
    assert bad_field.value.field == 'dependencies'
    with pytest.raises(NotFoundError) as missing:
        dev.get_dataset(str(uuid.uuid4()))
    assert missing.value.status_code == 404 and missing.value.resource == 'dataset'

    boss.ban_user('dev@example.com')
    with pytest.raises(InvalidTokenError) as revoked:
        dev.get_current_user()
    assert revoked.value.status_code == 401
    with pytest.raises(UnauthenticatedError):
        dev.login('dev@example.com', 'dev-password')
    assert boss.delete_dataset(dataset['id']) == {'id': dataset['id'], 'deleted': True}
    assert boss.delete_model(model['id'])['deleted'] is True
    boss.logout()
    assert boss.get_current_user() is None


def test_an_admin_that_cannot_be_reached_is_service_unavailable():
    with pytest.raises(ServiceUnavailableError):
        Client('127.0.0.1', free_port(), timeout=2).login('a@b.c', 'password')
