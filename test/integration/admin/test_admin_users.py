"""POST /tokens and the /users endpoints, with every way a token can be wrong."""
import time

import pytest

from admin_helpers import PASSWORD, error_of
from singa.admin.auth import TokenSigner
from singa.meta_store import events


def login(api, email, password=PASSWORD):
    return api.post('/tokens', json={'email': email, 'password': password})


# Logging in -------------------------------------------------------------------------------------

def test_login_returns_a_working_token_with_an_expiry(api, model_dev):
    body = login(api, 'DEV@example.com ').get_json()
    assert body['user_id'] == model_dev.id and body['user_type'] == 'MODEL_DEVELOPER'
    assert body['expires_at'].endswith('+00:00')
    me = api.get('/users/me', token=body['token']).get_json()
    assert me['email'] == 'dev@example.com' and me['banned_at'] is None and 'password_hash' not in me


@pytest.mark.parametrize('email, password', [('dev@example.com', 'wrong-password'), ('nobody@example.com', PASSWORD)])
def test_wrong_credentials_are_401(api, model_dev, email, password):
    error_of(login(api, email, password), 401, 'UnauthenticatedError')


@pytest.mark.parametrize('body, field', [
    ({'email': 'dev@example.com'}, 'password'),
    ({'password': PASSWORD}, 'email'),
    ({'email': 5, 'password': PASSWORD}, 'email'),
    ({'email': 'dev@example.com', 'password': None}, 'password'),
    ({'email': 'dev@example.com', 'password': PASSWORD, 'remember': True}, 'remember'),
])
def test_login_bodies_are_checked_field_by_field(api, body, field):
    error_of(api.post('/tokens', json=body), 400, 'InvalidRequestError', field=field)


# Tokens -----------------------------------------------------------------------------------------

def test_no_token_is_401(api):
    error_of(api.get('/users/me'), 401, 'UnauthenticatedError')


@pytest.mark.parametrize('header', ['Basic abc', 'Bearer', 'Bearer not-a-token', 'Bearer a.b.c'])
def test_malformed_tokens_are_401(api, header, superadmin):
    error_of(api.get('/users/me', headers={'Authorization': header}), 401, 'InvalidTokenError')


def test_an_expired_token_is_401(api, model_dev):
    signer = api.ctx.signer
    claims = signer.verify(model_dev.token)
    old, _ = signer.issue(claims.user_id, claims.user_type, claims.epoch,
                          now=time.time() - api.ctx.settings.token_ttl_seconds - 1)
    assert 'expired' in error_of(api.get('/users/me', token=old), 401, 'InvalidTokenError')['message']


def test_forged_tokens_are_401(api, model_dev):
    claims = api.ctx.signer.verify(model_dev.token)
    forged, _ = TokenSigner('some-other-secret-0123456789', 3600).issue(claims.user_id, 'SUPERADMIN', claims.epoch)
    error_of(api.get('/users', token=forged), 401, 'InvalidTokenError')
    payload, signature = model_dev.token.split('.')
    tampered = payload[:-2] + ('AA' if payload[-2:] != 'AA' else 'BB') + '.' + signature
    error_of(api.get('/users/me', token=tampered), 401, 'InvalidTokenError')


def test_a_token_of_a_user_no_longer_there_is_401(api, model_dev):
    with api.ctx.meta_store.transaction() as cur:
        cur.execute('DELETE FROM events')
        cur.execute('DELETE FROM users WHERE id = %s', (model_dev.id,))
    error_of(api.get('/users/me', model_dev), 401, 'InvalidTokenError')


# Creating users ---------------------------------------------------------------------------------

def test_superadmin_creates_an_admin_who_creates_developers(api, superadmin):
    response = api.post('/users', superadmin, json={'email': 'Boss@Example.com', 'password': 'quiet-harbour-17',
                                                    'user_type': 'ADMIN'})
    assert response.status_code == 200
    created = response.get_json()
    assert created['email'] == 'boss@example.com' and created['user_type'] == 'ADMIN'
    boss = login(api, 'boss@example.com', 'quiet-harbour-17').get_json()['token']
    for user_type in ('MODEL_DEVELOPER', 'APP_DEVELOPER'):
        response = api.post('/users', token=boss, json={'email': f'{user_type}@x.io', 'password': 'quiet-harbour-17',
                                                        'user_type': user_type})
        assert response.status_code == 200, response.get_json()
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.USER_CREATED)) == 4   # with the superadmin


def test_only_a_superadmin_creates_admins_and_nobody_a_superadmin(api, superadmin, admin_user):
    body = {'email': 'new@example.com', 'password': 'quiet-harbour-17', 'user_type': 'ADMIN'}
    error_of(api.post('/users', admin_user, json=body), 403, 'ForbiddenError', field='user_type')
    error_of(api.post('/users', superadmin, json=dict(body, user_type='SUPERADMIN')), 403, 'ForbiddenError')


def test_developers_may_not_create_users(api, model_dev, app_dev):
    body = {'email': 'new@example.com', 'password': 'quiet-harbour-17', 'user_type': 'APP_DEVELOPER'}
    for user in (model_dev, app_dev):
        error_of(api.post('/users', user, json=body), 403, 'ForbiddenError')
    error_of(api.post('/users', json=body), 401, 'UnauthenticatedError')


@pytest.mark.parametrize('change, field', [
    ({'email': 'not-an-email'}, 'email'),
    ({'email': 'a b@example.com'}, 'email'),
    ({'password': 'short'}, 'password'),
    ({'user_type': 'ROOT'}, 'user_type'),
    ({'user_type': 3}, 'user_type'),
    ({'password': 12345678}, 'password'),
    ({'email': None}, 'email'),
    ({'admin': True}, 'admin'),
])
def test_user_bodies_are_checked(api, admin_user, change, field):
    body = {'email': 'new@example.com', 'password': 'quiet-harbour-17', 'user_type': 'APP_DEVELOPER'}
    body.update(change)
    error_of(api.post('/users', admin_user, json=body), 400, 'InvalidRequestError', field=field)


def test_a_taken_email_is_409(api, admin_user, model_dev):
    body = {'email': 'DEV@example.com', 'password': 'quiet-harbour-17', 'user_type': 'APP_DEVELOPER'}
    error_of(api.post('/users', admin_user, json=body), 409, 'ConflictError', field='email')


# Listing and banning ----------------------------------------------------------------------------

def test_admins_list_users_and_developers_may_not(api, admin_user, model_dev, app_dev):
    listed = api.get('/users', admin_user).get_json()
    assert {u['email'] for u in listed} == {'superadmin@singaauto', 'admin@example.com', 'dev@example.com',
                                            'app@example.com'}
    assert set(listed[0]) == {'id', 'email', 'user_type', 'created_at', 'banned_at'}
    for user in (model_dev, app_dev):
        error_of(api.get('/users', user), 403, 'ForbiddenError')


def test_a_ban_revokes_the_users_tokens_at_once(api, admin_user, app_dev):
    assert api.get('/users/me', app_dev).status_code == 200
    banned = api.delete('/users', admin_user, json={'email': 'app@example.com'}).get_json()
    assert banned['banned_at'] is not None
    error_of(api.get('/users/me', app_dev), 401, 'InvalidTokenError')
    error_of(api.get('/datasets', app_dev), 401, 'InvalidTokenError')
    assert 'banned' in error_of(login(api, 'app@example.com'), 401, 'UnauthenticatedError')['message']
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.USER_BANNED)) == 1


def test_ban_rules(api, superadmin, admin_user, model_dev):
    other_admin = api.post('/users', superadmin, json={'email': 'a2@example.com', 'password': 'quiet-harbour-17',
                                                       'user_type': 'ADMIN'}).get_json()
    error_of(api.delete('/users', admin_user, json={'email': other_admin['email']}), 403, 'ForbiddenError')
    error_of(api.delete('/users', admin_user, json={'email': 'admin@example.com'}), 403, 'ForbiddenError')
    error_of(api.delete('/users', admin_user, json={'email': 'superadmin@singaauto'}), 403, 'ForbiddenError')
    error_of(api.delete('/users', superadmin, json={'email': 'superadmin@singaauto'}), 403, 'ForbiddenError')
    error_of(api.delete('/users', model_dev, json={'email': 'dev2@example.com'}), 403, 'ForbiddenError')
    error_of(api.delete('/users', admin_user, json={'email': 'ghost@example.com'}), 404, 'NotFoundError')
    error_of(api.delete('/users', admin_user, json={}), 400, 'InvalidRequestError', field='email')
    error_of(api.delete('/users', json={'email': 'dev@example.com'}), 401, 'UnauthenticatedError')
    assert api.delete('/users', superadmin, json={'email': other_admin['email']}).status_code == 200
    assert api.delete('/users', admin_user, json={'email': 'dev@example.com'}).status_code == 200
