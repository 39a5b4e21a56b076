"""Accounts: the password policy, login throttling, password change and reset, logout, unban, and
the replay of creating requests sent again with the same Idempotency-Key."""
import random
import string
import uuid

import pytest

from admin_helpers import CLASSIFICATION_CSV, PASSWORD, error_of
from singa.admin.routes import users as users_routes
from singa.admin.services import users as users_service
from singa.admin.services.login_throttle import ACCOUNT, ADDRESS
from singa.client.multipart import MultipartStream
from singa.errors import ServiceUnavailableError
from singa.meta_store import events

STRONG = 'correct horse battery staple'


def login(api, email, password=PASSWORD, address='127.0.0.1'):
    return api.post('/tokens', json={'email': email, 'password': password},
                    environ_base={'REMOTE_ADDR': address})


def new_user(api, actor, email, password=STRONG, user_type='APP_DEVELOPER'):
    return api.post('/users', actor, json={'email': email, 'password': password, 'user_type': user_type})


def failures_of(api, scope, subject):
    with api.ctx.meta_store.transaction() as cur:
        cur.execute('SELECT failures FROM login_failures WHERE scope = %s AND subject = %s', (scope, subject))
        row = cur.fetchone()
    return row['failures'] if row else 0


def unlock_all(api):
    """What waiting out every lock would do, without the wait."""
    with api.ctx.meta_store.transaction() as cur:
        cur.execute("UPDATE login_failures SET locked_until = now() - interval '1 second'")


# The password policy -------------------------------------------------------------------------------

@pytest.mark.parametrize('password, says', [
    ('password', 'top-10 common password'),
    ('12345678', 'top-10 common password'),
    (' ' * 8, 'not only white space'),
    ('\t \n \t \n \t', 'control characters'),
    ('short', '8 to 1024 characters'),
    ('new@example.com', 'your email address'),
    (' NEW@Example.com ', 'your email address'),
    ('new@example.com1', 'too easy to guess'),
    ('qwertyuiop', 'too easy to guess'),
    ('P@ssw0rd!', 'too easy to guess'),
    ('password-123', 'similar to a commonly used password'),
    ('aaaaaaaaaaaa', 'Repeats'),
    ('x' * 1025, '8 to 1024 characters'),
])
def test_common_trivial_and_own_email_passwords_are_refused(api, admin_user, password, says):
    # The form (length, white space, control characters) is checked as /openapi.json documents it;
    # what only the policy can judge is a WeakPasswordError.
    of_form = says in ('not only white space', 'control characters', '8 to 1024 characters')
    error = error_of(new_user(api, admin_user, 'new@example.com', password), 400,
                     'InvalidRequestError' if of_form else 'WeakPasswordError', field='password')
    assert says in error['message']


def test_strong_passwords_are_taken(api, admin_user):
    rng = random.Random(7)
    generated = ''.join(rng.choice(string.ascii_letters + string.digits + '#-_') for _ in range(1024))
    for i, password in enumerate((STRONG, 'kangaroo-lamp-71', 'zq8-Fv2-k1x', generated)):
        assert new_user(api, admin_user, f'user{i}@example.com', password).status_code == 200
        assert login(api, f'user{i}@example.com', password).status_code == 200


# Login throttling -----------------------------------------------------------------------------------

def test_failed_logins_lock_the_account_with_429_and_retry_after(api, model_dev):
    for _ in range(ACCOUNT.free_failures):
        error_of(login(api, 'dev@example.com', 'wrong-password'), 401, 'UnauthenticatedError')
    assert login(api, 'dev@example.com').status_code == 200      # still free, and it clears the count
    for _ in range(ACCOUNT.free_failures + 1):
        error_of(login(api, 'dev@example.com', 'wrong-password'), 401, 'UnauthenticatedError')
    # Locked now: even the right password is refused, and not checked.
    refused = login(api, 'dev@example.com')
    error = error_of(refused, 429, 'TooManyRequestsError')
    assert 'too many failed logins for this account' in error['message']
    assert 0 < int(refused.headers['Retry-After']) <= ACCOUNT.first_lock_seconds
    assert error['details']['retry_after'] == int(refused.headers['Retry-After'])
    assert failures_of(api, 'account', 'dev@example.com') == ACCOUNT.free_failures + 1
    # Another account is not locked; after the lock a failure doubles it; a success clears it.
    assert login(api, 'other@example.com', 'wrong-password').status_code == 401
    unlock_all(api)
    error_of(login(api, 'dev@example.com', 'wrong-password'), 401, 'UnauthenticatedError')
    again = login(api, 'DEV@example.com ')
    assert again.status_code == 429 and ACCOUNT.first_lock_seconds < int(again.headers['Retry-After']) \
        <= 2 * ACCOUNT.first_lock_seconds
    unlock_all(api)
    assert login(api, 'dev@example.com').status_code == 200
    assert failures_of(api, 'account', 'dev@example.com') == 0


def test_failed_logins_lock_the_client_address(api, model_dev):
    attacker = '10.9.8.7'
    for i in range(ADDRESS.free_failures + 1):      # one try on each of many accounts: no account lock
        error_of(login(api, f'victim{i}@example.com', 'guess-1', address=attacker), 401, 'UnauthenticatedError')
    refused = login(api, 'dev@example.com', address=attacker)
    assert 'from your address' in error_of(refused, 429, 'TooManyRequestsError')['message']
    assert int(refused.headers['Retry-After']) > 0
    assert login(api, 'dev@example.com', address='10.9.8.8').status_code == 200
    # A success from the address does not reset the address's count.
    unlock_all(api)
    assert login(api, 'dev@example.com', address=attacker).status_code == 200
    assert failures_of(api, 'address', attacker) == ADDRESS.free_failures + 1


def test_the_lock_schedule_doubles_up_to_its_bound():
    assert [ACCOUNT.lock_seconds(n) for n in range(ACCOUNT.free_failures + 1)] == [0] * (ACCOUNT.free_failures + 1)
    first = ACCOUNT.free_failures + 1
    assert [ACCOUNT.lock_seconds(first + i) for i in range(4)] == [15, 30, 60, 120]
    assert ACCOUNT.lock_seconds(first + 50) == ACCOUNT.lock_seconds(10 ** 6) == ACCOUNT.max_lock_seconds


# Changing and resetting passwords ---------------------------------------------------------------------

def test_a_user_changes_their_password_with_the_old_one(api, model_dev):
    path = '/users/me/password'
    error_of(api.post(path, model_dev, json={'old_password': 'not-it', 'new_password': STRONG}), 403,
             'ForbiddenError', field='old_password')
    error_of(api.post(path, model_dev, json={'old_password': PASSWORD, 'new_password': 'password1'}), 400,
             'WeakPasswordError', field='new_password')
    error_of(api.post(path, model_dev, json={'old_password': PASSWORD, 'new_password': PASSWORD}), 400,
             'InvalidRequestError', field='new_password')
    error_of(api.post(path, json={'old_password': PASSWORD, 'new_password': STRONG}), 401, 'UnauthenticatedError')
    changed = api.post(path, model_dev, json={'old_password': PASSWORD, 'new_password': STRONG})
    assert changed.status_code == 200 and changed.get_json()['email'] == 'dev@example.com'
    assert api.get('/users/me', model_dev).status_code == 200         # the session goes on
    error_of(login(api, 'dev@example.com', PASSWORD), 401, 'UnauthenticatedError')
    assert login(api, 'dev@example.com', STRONG).status_code == 200
    with api.ctx.meta_store.transaction() as cur:
        [event] = events.list_events(cur, kind=events.USER_PASSWORD_CHANGED)
    assert event.data == {'by': model_dev.id}


def test_guessing_the_old_password_with_a_stolen_token_is_throttled(api, model_dev):
    for _ in range(ACCOUNT.free_failures + 1):
        error_of(api.post('/users/me/password', model_dev, json={'old_password': 'guess', 'new_password': STRONG}),
                 403, 'ForbiddenError')
    refused = api.post('/users/me/password', model_dev, json={'old_password': PASSWORD, 'new_password': STRONG})
    assert refused.status_code == 429 and int(refused.headers['Retry-After']) > 0


def test_admins_reset_passwords_by_the_role_rules(api, superadmin, admin_user, model_dev):
    other_admin = new_user(api, superadmin, 'a2@example.com', user_type='ADMIN').get_json()
    reset = '/users/password'
    for actor, email in ((admin_user, other_admin['email']), (admin_user, 'superadmin@singaauto'),
                         (superadmin, 'superadmin@singaauto'), (admin_user, 'admin@example.com'),
                         (model_dev, 'app@example.com')):
        error_of(api.post(reset, actor, json={'email': email, 'password': STRONG}), 403, 'ForbiddenError')
    error_of(api.post(reset, admin_user, json={'email': 'ghost@example.com', 'password': STRONG}), 404,
             'NotFoundError')
    error_of(api.post(reset, admin_user, json={'email': 'dev@example.com', 'password': 'dev@example.com'}), 400,
             'WeakPasswordError', field='password')
    # The user had locked themselves out; the reset revokes their tokens and forgets the failures.
    for _ in range(ACCOUNT.free_failures + 1):
        login(api, 'dev@example.com', 'forgotten-it')
    assert login(api, 'dev@example.com').status_code == 429
    assert api.post(reset, admin_user, json={'email': 'DEV@example.com', 'password': STRONG}).status_code == 200
    error_of(api.get('/users/me', model_dev), 401, 'InvalidTokenError')
    assert login(api, 'dev@example.com', STRONG).status_code == 200
    assert api.post(reset, superadmin, json={'email': other_admin['email'], 'password': STRONG}).status_code == 200


# Logging out -------------------------------------------------------------------------------------

def test_logout_revokes_that_token_and_logout_everywhere_every_token(api, model_dev):
    first, second = (login(api, 'dev@example.com').get_json()['token'] for _ in range(2))
    out = api.delete('/tokens/current', token=first)
    assert out.status_code == 200 and out.get_json() == {'user_id': model_dev.id, 'everywhere': False}
    assert 'revoked' in error_of(api.get('/users/me', token=first), 401, 'InvalidTokenError')['message']
    assert api.get('/users/me', token=second).status_code == 200
    error_of(api.delete('/tokens/current', token=first), 401, 'InvalidTokenError')
    assert api.delete('/tokens', token=second).get_json() == {'user_id': model_dev.id, 'everywhere': True}
    for token in (second, model_dev.token):
        error_of(api.get('/users/me', token=token), 401, 'InvalidTokenError')
    third = login(api, 'dev@example.com').get_json()['token']
    assert api.get('/users/me', token=third).status_code == 200
    error_of(api.delete('/tokens/current'), 401, 'UnauthenticatedError')


def test_housekeeping_forgets_only_what_has_expired(api, admin_user, model_dev):
    api.delete('/tokens/current', model_dev)
    login(api, 'nobody@example.com', 'wrong-password')
    create_with_key(api, admin_user, str(uuid.uuid4()))
    ctx = api.ctx

    def counts():
        found = []
        with ctx.meta_store.transaction() as cur:
            for table in ('revoked_tokens', 'login_failures', 'idempotent_requests'):
                cur.execute(f'SELECT count(*) AS n FROM {table}')
                found.append(cur.fetchone()['n'])
        return found

    assert counts() == [1, 2, 1]            # one token; the account and the address; one answer
    users_service.forget_expired(ctx.meta_store, ctx.login_throttle, ctx.idempotency)
    assert counts() == [1, 2, 1]
    with ctx.meta_store.transaction() as cur:
        cur.execute("UPDATE revoked_tokens SET expires_at = now() - interval '1 second'")
        cur.execute("UPDATE login_failures SET last_failed_at = now() - interval '2 hours'")
        cur.execute("UPDATE idempotent_requests SET expires_at = now() - interval '1 second'")
    users_service.forget_expired(ctx.meta_store, ctx.login_throttle, ctx.idempotency)
    assert counts() == [0, 0, 0]


# Unbanning -----------------------------------------------------------------------------------------

def test_an_unbanned_user_logs_in_again_but_old_tokens_stay_revoked(api, admin_user, app_dev):
    api.delete('/users', admin_user, json={'email': 'app@example.com'})
    assert 'banned' in error_of(login(api, 'app@example.com'), 401, 'UnauthenticatedError')['message']
    unbanned = api.post('/users/unban', admin_user, json={'email': 'APP@example.com'})
    assert unbanned.status_code == 200 and unbanned.get_json()['banned_at'] is None
    error_of(api.get('/users/me', app_dev), 401, 'InvalidTokenError')
    assert login(api, 'app@example.com').status_code == 200
    assert api.post('/users/unban', admin_user, json={'email': 'app@example.com'}).status_code == 200
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.USER_UNBANNED)) == 1


def test_unban_rules(api, superadmin, admin_user, model_dev):
    other_admin = new_user(api, superadmin, 'a2@example.com', user_type='ADMIN').get_json()
    api.delete('/users', superadmin, json={'email': other_admin['email']})
    error_of(api.post('/users/unban', admin_user, json={'email': other_admin['email']}), 403, 'ForbiddenError')
    error_of(api.post('/users/unban', model_dev, json={'email': other_admin['email']}), 403, 'ForbiddenError')
    error_of(api.post('/users/unban', admin_user, json={'email': 'ghost@example.com'}), 404, 'NotFoundError')
    error_of(api.post('/users/unban', admin_user, json={}), 400, 'InvalidRequestError', field='email')
    assert api.post('/users/unban', superadmin, json={'email': other_admin['email']}).status_code == 200


# Idempotency keys ------------------------------------------------------------------------------------

def create_with_key(api, user, key, **body):
    body = {'email': 'new@example.com', 'password': STRONG, 'user_type': 'APP_DEVELOPER', **body}
    return api.post('/users', user, headers={'Idempotency-Key': key}, json=body)


def test_a_creating_request_sent_again_with_its_key_is_answered_from_the_first(api, admin_user, superadmin):
    key = str(uuid.uuid4())
    first = create_with_key(api, admin_user, key)
    again = create_with_key(api, admin_user, key)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() and again.headers['Idempotent-Replayed'] == 'true'
    assert 'Idempotent-Replayed' not in first.headers
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.USER_CREATED)) == 3     # the superadmin, admin, new
    # The same key with another body is refused; another user's same key is theirs alone.
    reused = create_with_key(api, admin_user, key, user_type='MODEL_DEVELOPER')
    assert 'different request' in error_of(reused, 422, 'IdempotencyKeyReusedError', field='Idempotency-Key')[
        'message']
    theirs = create_with_key(api, superadmin, key, email='other@example.com')
    assert theirs.status_code == 200 and theirs.get_json()['email'] == 'other@example.com'
    # An error answer is kept too: the retry of a refused request is refused the same way.
    key = str(uuid.uuid4())
    conflict = create_with_key(api, admin_user, key)
    assert conflict.status_code == 409 and create_with_key(api, admin_user, key).get_json() == conflict.get_json()


def test_uploads_are_replayed_by_their_framing(api, app_dev, tmp_path):
    path = tmp_path / 'train.csv'
    path.write_bytes(CLASSIFICATION_CSV)
    form = MultipartStream({'name': 'ds', 'task': 'TABULAR_CLASSIFICATION'}, {'dataset': str(path)})
    key = str(uuid.uuid4())
    answers = []
    for _ in range(2):      # as the client retries: the same stream from its start, the same key
        form.rewind()
        answers.append(api.post('/datasets', app_dev, data=form.read(), content_type=form.content_type,
                                headers={'Idempotency-Key': key}))
    assert [a.status_code for a in answers] == [200, 200] and answers[1].get_json() == answers[0].get_json()
    assert answers[1].headers['Idempotent-Replayed'] == 'true'
    assert [d['id'] for d in api.get('/datasets', app_dev).get_json()] == [answers[0].get_json()['id']]
    dataset_id = answers[0].get_json()['id']
    deleted = [api.delete(f'/datasets/{dataset_id}', app_dev, headers={'Idempotency-Key': key + '-delete'})
               for _ in range(2)]
    assert [d.status_code for d in deleted] == [200, 200] and deleted[1].headers['Idempotent-Replayed'] == 'true'


def test_a_request_still_running_answers_409_with_retry_after(api, admin_user):
    key = str(uuid.uuid4())
    assert create_with_key(api, admin_user, key).status_code == 200
    with api.ctx.meta_store.transaction() as cur:     # as if that request were still being processed
        cur.execute('UPDATE idempotent_requests SET status = NULL, body = NULL')
    busy = create_with_key(api, admin_user, key)
    assert error_of(busy, 409, 'RequestInProgressError')['details'] == {'retry_after': 1}
    assert busy.headers['Retry-After'] == '1'
    # A first request whose admin process died is taken over once its lease has run out.
    with api.ctx.meta_store.transaction() as cur:
        cur.execute("UPDATE idempotent_requests SET created_at = now() - interval '1 hour'")
    error_of(create_with_key(api, admin_user, key), 409, 'ConflictError', field='email')


def test_a_failure_of_the_server_is_not_kept_so_a_retry_runs_again(api, admin_user, monkeypatch):
    calls = []
    create_user = users_service.create_user

    def unavailable_once(*args):
        calls.append(args)
        if len(calls) == 1:
            raise ServiceUnavailableError('database unavailable', resource='database')
        return create_user(*args)

    monkeypatch.setattr(users_routes.users, 'create_user', unavailable_once)    # a fault, once
    key = str(uuid.uuid4())
    assert create_with_key(api, admin_user, key).status_code == 503
    assert create_with_key(api, admin_user, key).status_code == 200 and len(calls) == 2


@pytest.mark.parametrize('key', ['', 'k' * 256, 'cl\u00e9', 'with space'])
def test_malformed_idempotency_keys_are_400(api, admin_user, key):
    error_of(create_with_key(api, admin_user, key), 400, 'InvalidRequestError', field='Idempotency-Key')
