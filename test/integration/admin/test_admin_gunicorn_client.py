"""The real thing: the admin under gunicorn (two workers seeding at once), driven by ``Client`` over HTTP."""
import http.client
import json
import uuid

import pytest
import requests

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE
from singa.admin.services.login_throttle import ACCOUNT, ADDRESS
from singa.client import Client, RetryPolicy
from singa.errors import (ConflictError, InvalidDatasetError, InvalidModelError, InvalidRequestError,
                          InvalidTokenError, NotFoundError, ServiceUnavailableError, TooManyRequestsError,
                          UnauthenticatedError)
from singa.local.servers import free_port

STRONG_PASSWORD = 'correct horse battery staple'


def test_client_against_the_admin_under_gunicorn(admin_server, base_env, tmp_path, monkeypatch):
    monkeypatch.setenv('SINGA_ADMIN_PORT', str(admin_server))
    boss = Client(admin_host='127.0.0.1')                     # the port comes from the environment
    assert boss.get_current_user() is None
    me = boss.login(base_env['SINGA_SUPERADMIN_EMAIL'], base_env['SINGA_SUPERADMIN_PASSWORD'])
    assert me['user_type'] == 'SUPERADMIN' and boss.get_current_user()['id'] == me['id']
    boss.create_user('dev@example.com', 'violet-canyon-88', 'MODEL_DEVELOPER')
    with pytest.raises(ConflictError) as conflict:
        boss.create_user('dev@example.com', 'violet-canyon-88', 'MODEL_DEVELOPER')
    assert conflict.value.status_code == 409 and conflict.value.field == 'email'
    assert sorted(u['email'] for u in boss.get_users()) == ['dev@example.com', 'superadmin@singaauto']

    dev = Client('127.0.0.1', admin_server)
    dev.login('dev@example.com', 'violet-canyon-88')
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
                             dependencies={'numpy': '>=1.24'}, access_right='PUBLIC', model_description='demo')
    assert model['dependencies'] == ['numpy>=1.24'] and model['knob_config']['knobs']
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
        dev.login('dev@example.com', 'violet-canyon-88')
    assert boss.delete_dataset(dataset['id']) == {'id': dataset['id'], 'deleted': True}
    assert boss.delete_model(model['id'])['deleted'] is True
    boss.logout()
    assert boss.get_current_user() is None


def test_an_admin_that_cannot_be_reached_is_service_unavailable():
    with pytest.raises(ServiceUnavailableError):
        Client('127.0.0.1', free_port(), timeout=2, retry=RetryPolicy(attempts=2)).login('a@b.c', 'password')


def _login_from(port: int, source: str, email: str, password: str) -> tuple[int, dict, dict]:
    """POST /tokens over a new connection from the loopback address ``source``."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10, source_address=(source, 0))
    try:
        conn.request('POST', '/tokens', body=json.dumps({'email': email, 'password': password}),
                     headers={'Content-Type': 'application/json'})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def test_accounts_under_gunicorn(admin_server, base_env):
    """Throttling seen by every gunicorn process, logout, password change and unban, over HTTP."""
    boss = Client('127.0.0.1', admin_server)
    boss.login(base_env['SINGA_SUPERADMIN_EMAIL'], base_env['SINGA_SUPERADMIN_PASSWORD'])
    with pytest.raises(InvalidRequestError, match='too easy to guess') as weak:
        boss.create_user('dev@example.com', 'password1', 'MODEL_DEVELOPER')
    assert weak.value.status_code == 400 and weak.value.field == 'password'
    boss.create_user('dev@example.com', 'violet-canyon-88', 'MODEL_DEVELOPER')

    # Each failed login on a connection of its own, spread over gunicorn's two worker processes.
    for _ in range(ACCOUNT.free_failures + 1):
        assert _login_from(admin_server, '127.0.0.2', 'dev@example.com', 'wrong-password')[0] == 401
    status, headers, body = _login_from(admin_server, '127.0.0.3', 'dev@example.com', 'violet-canyon-88')
    assert status == 429 and body['error']['type'] == 'TooManyRequestsError'
    assert 0 < int(headers['Retry-After']) <= ACCOUNT.first_lock_seconds
    with pytest.raises(TooManyRequestsError) as locked:
        Client('127.0.0.1', admin_server).login('dev@example.com', 'violet-canyon-88')
    assert locked.value.status_code == 429 and 0 < locked.value.retry_after <= ACCOUNT.first_lock_seconds
    # Per address: failures on many accounts from one address lock that address only.
    for i in range(ADDRESS.free_failures + 1):
        assert _login_from(admin_server, '127.0.0.4', f'user{i}@example.com', 'guess')[0] == 401
    assert _login_from(admin_server, '127.0.0.4', 'superadmin@singaauto', 'guess')[0] == 429
    assert _login_from(admin_server, '127.0.0.5', base_env['SINGA_SUPERADMIN_EMAIL'],
                       base_env['SINGA_SUPERADMIN_PASSWORD'])[0] == 200

    # An admin's reset unlocks the account; the user changes the password, then logs out.
    boss.reset_password('dev@example.com', 'kangaroo-lamp-71')
    dev = Client('127.0.0.1', admin_server)
    dev.login('dev@example.com', 'kangaroo-lamp-71')
    dev.change_password('kangaroo-lamp-71', STRONG_PASSWORD)
    token = dev._token
    assert requests.get(f'http://127.0.0.1:{admin_server}/users/me', headers={'Authorization': f'Bearer {token}'},
                        timeout=5).status_code == 200
    dev.logout()
    assert dev.get_current_user() is None
    revoked = requests.get(f'http://127.0.0.1:{admin_server}/users/me',
                           headers={'Authorization': f'Bearer {token}'}, timeout=5)
    assert revoked.status_code == 401 and 'revoked' in revoked.json()['error']['message']

    # Ban, then unban: the user logs in again.
    boss.ban_user('dev@example.com')
    with pytest.raises(UnauthenticatedError, match='banned'):
        dev.login('dev@example.com', STRONG_PASSWORD)
    assert boss.unban_user('dev@example.com')['banned_at'] is None
    dev.login('dev@example.com', STRONG_PASSWORD)
    other = Client('127.0.0.1', admin_server)
    other.login('dev@example.com', STRONG_PASSWORD)
    dev.logout(everywhere=True)
    with pytest.raises(InvalidTokenError):
        other.get_current_user()
