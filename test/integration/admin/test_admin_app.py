"""The app factory, health, the error envelope for Werkzeug's own errors, and superadmin seeding."""
import dataclasses
import threading

import pytest
from flask.testing import FlaskClient

from admin_helpers import error_of
from singa.admin.app import create_app
from singa.admin.context import EXTENSION_KEY
from singa.admin.services import users
from singa.config import Settings
from singa.errors import ConfigError
from singa.local.servers import free_port
from singa.meta_store import events
from singa.meta_store.db import MetaStore
from singa.queues import make_redis

UP = {'service': 'singa-admin', 'status': 'ok'}


def test_index_and_health_answer_json(api):
    assert api.get('/').get_json() == UP
    response = api.get('/health')
    assert response.status_code == 200
    assert response.get_json() == dict(UP, dependencies={'postgres': 'ok', 'redis': 'ok'})


def test_health_is_503_when_the_database_is_down(app, api):
    ctx = app.extensions[EXTENSION_KEY]
    dead = MetaStore('host=127.0.0.1 port=1 user=x password=x dbname=x', connect_timeout=1)
    app.extensions[EXTENSION_KEY] = dataclasses.replace(ctx, meta_store=dead)
    try:
        error = error_of(api.get('/health'), 503, 'ServiceUnavailableError')
        assert error['resource'] == 'postgres' and error['details']['redis'] == 'ok'
        assert api.get('/').status_code == 200
    finally:
        app.extensions[EXTENSION_KEY] = ctx


def test_health_is_503_when_redis_is_down(app, api, admin_settings):
    ctx = app.extensions[EXTENSION_KEY]
    dead = make_redis(dataclasses.replace(admin_settings, redis_port=free_port()))
    app.extensions[EXTENSION_KEY] = dataclasses.replace(ctx, redis=dead)
    try:
        error = error_of(api.get('/health'), 503, 'ServiceUnavailableError')
        assert error['resource'] == 'redis' and 'redis' in error['message']
        assert error['details']['postgres'] == 'ok' and error['details']['redis'] != 'ok'
    finally:
        app.extensions[EXTENSION_KEY] = ctx


def test_unknown_route_and_wrong_method_use_the_envelope(api):
    error = error_of(api.get('/no/such/thing'), 404, 'NotFoundError')
    assert '/no/such/thing' in error['message']
    response = api.call('PUT', '/tokens')
    error_of(response, 405, 'MethodNotAllowedError')
    assert 'POST' in response.headers['Allow']


def test_bodies_that_are_not_json_objects_are_400(api):
    error_of(api.post('/tokens', data='{"email": ', content_type='application/json'), 400, 'InvalidRequestError')
    error_of(api.post('/tokens', data='[1, 2]', content_type='application/json'), 400, 'InvalidRequestError')
    error_of(api.post('/tokens', data='email=x', content_type='application/x-www-form-urlencoded'),
             400, 'InvalidRequestError')


def test_a_json_body_over_the_limit_is_413(api):
    huge = '{"email": "' + 'x' * (2 << 20) + '"}'
    error_of(api.post('/tokens', data=huge, content_type='application/json'), 413, 'PayloadTooLargeError')


def test_an_unexpected_exception_is_a_generic_500_without_details(app, caplog):
    def boom():
        raise RuntimeError('secret internals')
    app.add_url_rule('/boom', 'boom', boom)
    # The plain client, not the fixture's: this 500 is the point of the test.
    response = FlaskClient(app, app.response_class).get('/boom')
    assert response.status_code == 500
    error = response.get_json()['error']
    assert error['type'] == 'SingaError' and 'secret' not in error['message'] and 'reference' in error['message']
    assert 'secret internals' in caplog.text


def test_the_admin_needs_a_superadmin_password_and_a_token_secret(base_env):
    for missing in ('SINGA_SUPERADMIN_PASSWORD', 'SINGA_TOKEN_SECRET'):
        env = {k: v for k, v in base_env.items() if k != missing}
        for mode in ('production', 'local'):
            with pytest.raises(ConfigError, match=missing):
                Settings.from_env(dict(env, SINGA_MODE=mode)).require('admin')


@pytest.mark.parametrize('change, variable', [({'superadmin_email': 'not an email'}, 'SINGA_SUPERADMIN_EMAIL'),
                                               ({'superadmin_password': 'short'}, 'SINGA_SUPERADMIN_PASSWORD')])
def test_a_bad_superadmin_configuration_stops_the_start(settings, meta_store, change, variable):
    with pytest.raises(ConfigError, match=variable):
        create_app(dataclasses.replace(settings, **change), meta_store=meta_store, start_reconciler=False)


def test_superadmin_seeding_is_safe_when_apps_start_at_once(settings, meta_store):
    # What each admin process does at start (create_app's migrate and seed), four at once. Not whole
    # apps in threads: building Flask apps concurrently in one process trips a CPython 3.11 bug in
    # compile() that gunicorn's separate worker processes never meet.
    stores = [MetaStore(settings.postgres_dsn, max_connections=2) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors = []

    def start(store):
        try:
            barrier.wait()
            store.migrate()
            users.seed_superadmin(store, settings)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    assert errors == []
    with meta_store.transaction() as cur:
        cur.execute("SELECT user_type FROM users")
        assert [r['user_type'] for r in cur.fetchall()] == ['SUPERADMIN']
        assert len(events.list_events(cur, kind=events.USER_CREATED)) == 1


def test_a_second_start_leaves_the_superadmin_as_it_is(settings, meta_store, api):
    changed = dataclasses.replace(settings, superadmin_password='another-password-entirely')
    create_app(changed, meta_store=meta_store, start_reconciler=False)
    assert api.post('/tokens', json={'email': settings.superadmin_email,
                                     'password': settings.superadmin_password}).status_code == 200
