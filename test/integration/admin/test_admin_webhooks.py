"""Webhooks against a real HTTP receiver on loopback: registered through the API, each event of the
owner delivered once, signed (HMAC-SHA256 over a timestamp and the body), retried with backoff until
it is delivered or the attempts run out, every attempt in the delivery log; URLs that would make the
admin reach internal addresses are refused."""
import dataclasses
import json
import time
import uuid

import pytest
from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, error_of
from local_stack import wait_until
from singa.admin.services.webhook_delivery import WebhookDeliverer
from singa.admin.services.webhooks import NewWebhook, WebhookService
from singa.client import Client, verify_webhook_signature
from singa.config import Settings
from singa.errors import ForbiddenError
from singa.meta_store import users as users_repo
from webhook_receiver import Receiver


@pytest.fixture
def admin_settings(admin_settings):
    """Webhooks may reach loopback here (the receiver); retries come quickly."""
    return dataclasses.replace(admin_settings, webhook_networks='127.0.0.0/8', webhook_backoff_seconds=0.05,
                               webhook_max_backoff=0.2, webhook_max_attempts=3, webhook_timeout_seconds=2)


def deliver(api, until, timeout=10.0):
    """Run the delivery worker's rounds until ``until()`` holds."""
    deliverer = api.ctx.webhook_deliverer
    return wait_until(lambda: deliverer.run_once() is not None and until(), timeout, interval=0.05)


def register(api, user, url, **body):
    response = api.post('/webhooks', user, json={'url': url, **body})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_events_reach_the_owners_webhook_signed_once_each(api, app_dev, other_app_dev):
    with Receiver() as receiver:
        hook = register(api, app_dev, receiver.url, description='ci')
        OAS31Validator(api.get('/openapi.json').get_json()['components']['schemas']['NewWebhook']).validate(hook)
        assert hook['secret'].startswith('whsec_') and hook['kinds'] == []
        assert 'secret' not in api.get(f'/webhooks/{hook["id"]}', app_dev).get_json()
        dataset = api.upload_dataset(app_dev, CLASSIFICATION_CSV).get_json()
        api.upload_dataset(other_app_dev, CLASSIFICATION_CSV)            # another user's event: not sent here
        assert deliver(api, lambda: len(receiver.requests) >= 2)
        assert api.ctx.webhook_deliverer.run_once() == 0             # nothing more is due: one delivery each
        kinds = [json.loads(body)['kind'] for _, body in receiver.requests]
        assert kinds == ['webhook_created', 'dataset_created']
        headers, body = receiver.requests[1]
        event = json.loads(body)
        assert event['subject_id'] == dataset['id'] and event['owner_id'] == app_dev.id
        assert event['actor_id'] == app_dev.id and event['data']['name'] == 'ds'
        assert headers['Singa-Event'] == 'dataset_created' and headers['Singa-Webhook'] == hook['id']
        assert verify_webhook_signature(hook['secret'], body, headers['Singa-Signature'])
        assert not verify_webhook_signature(hook['secret'], body + b' ', headers['Singa-Signature'])
        assert not verify_webhook_signature('whsec_other', body, headers['Singa-Signature'])
        # A replay later than the tolerance is refused, though its HMAC is right.
        assert not verify_webhook_signature(hook['secret'], body, headers['Singa-Signature'], now=time.time() + 600)
        [delivery] = api.get(f'/webhooks/{hook["id"]}/deliveries?limit=1', app_dev).get_json()
        assert delivery['status'] == 'DELIVERED' and delivery['event_kind'] == 'dataset_created'
        assert headers['Singa-Delivery'] == delivery['id'] and [a['status_code'] for a in delivery['log']] == [200]


def test_failed_deliveries_are_retried_with_backoff_then_given_up(api, app_dev):
    with Receiver(statuses=[503, 500]) as receiver:
        hook = register(api, app_dev, receiver.url, kinds=['dataset_created'])
        api.upload_dataset(app_dev, CLASSIFICATION_CSV)
        assert deliver(api, lambda: len(receiver.requests) >= 3)
        [delivery] = api.get(f'/webhooks/{hook["id"]}/deliveries', app_dev).get_json()
        assert delivery['status'] == 'DELIVERED' and delivery['attempts'] == 3
        assert [a['status_code'] for a in delivery['log']] == [503, 500, 200]
        assert delivery['log'][0]['error'] == 'the receiver answered HTTP 503'
        # The same delivery each time: one id, one body, a fresh signature.
        assert len({h['Singa-Delivery'] for h, _ in receiver.requests}) == 1
        assert len({b for _, b in receiver.requests}) == 1
    # The receiver is gone: every attempt fails, and after webhook_max_attempts the delivery is FAILED.
    api.upload_dataset(app_dev, CLASSIFICATION_CSV, name='second')
    deliveries = lambda: api.get(f'/webhooks/{hook["id"]}/deliveries?status=FAILED', app_dev).get_json()  # noqa: E731
    assert deliver(api, deliveries)
    [failed] = deliveries()
    assert failed['attempts'] == 3 and failed['next_attempt_at'] is None and len(failed['log']) == 3
    assert all(a['status_code'] is None and 'failed' in a['error'] for a in failed['log'])
    assert failed['last_error'] == failed['log'][-1]['error']


def test_backoff_doubles_up_to_its_bound(admin_settings, meta_store):
    settings = dataclasses.replace(admin_settings, webhook_backoff_seconds=2, webhook_max_backoff=10,
                                   webhook_max_attempts=6)
    now = __import__('datetime').datetime(2024, 1, 1, tzinfo=__import__('datetime').timezone.utc)
    deliverer = WebhookDeliverer(meta_store, settings, WebhookService(meta_store, settings), clock=lambda: now)
    delays = [(deliverer.retry_at(n) - now).total_seconds() for n in range(1, 6)]
    assert delays == [2, 4, 8, 10, 10] and deliverer.retry_at(6) is None


def test_only_the_kinds_asked_for_are_sent(api, app_dev):
    with Receiver() as receiver:
        hook = register(api, app_dev, receiver.url, kinds=['dataset_deleted'])
        dataset = api.upload_dataset(app_dev, CLASSIFICATION_CSV).get_json()
        api.delete(f'/datasets/{dataset["id"]}', app_dev)
        assert deliver(api, lambda: receiver.requests)
        assert api.ctx.webhook_deliverer.run_once() == 0
        assert [json.loads(b)['kind'] for _, b in receiver.requests] == ['dataset_deleted']
        assert [d['event_kind'] for d in api.get(f'/webhooks/{hook["id"]}/deliveries', app_dev).get_json()] == \
            ['dataset_deleted']


def test_webhooks_are_their_owners_alone(api, app_dev, other_app_dev, admin_user):
    hook = register(api, app_dev, 'http://127.0.0.1:9/hook')
    for user in (other_app_dev, admin_user):
        error_of(api.get(f'/webhooks/{hook["id"]}', user), 404, 'NotFoundError')
        error_of(api.delete(f'/webhooks/{hook["id"]}', user), 404, 'NotFoundError')
        error_of(api.get(f'/webhooks/{hook["id"]}/deliveries', user), 404, 'NotFoundError')
        assert api.get('/webhooks', user).get_json() == []
    assert [w['id'] for w in api.get('/webhooks', app_dev).get_json()] == [hook['id']]
    assert api.delete(f'/webhooks/{hook["id"]}', app_dev).get_json()['id'] == hook['id']
    error_of(api.delete(f'/webhooks/{hook["id"]}', app_dev), 404, 'NotFoundError')
    error_of(api.get(f'/webhooks/{uuid.uuid4()}', app_dev), 404, 'NotFoundError')


def test_malformed_webhook_urls_are_refused(api, app_dev):
    for url in ('ftp://example.com/x', 'http://user:pw@example.com/x', 'http:///x', 'http://example.com:99999/'):
        response = api.post('/webhooks', app_dev, json={'url': url})
        assert response.status_code == 400, (url, response.get_json())
        assert response.get_json()['error']['field'] == 'url'
    error_of(api.post('/webhooks', app_dev, json={'url': 'http://127.0.0.1/', 'kinds': ['nope']}), 400,
             'InvalidRequestError')


def test_internal_addresses_are_refused_by_default(api, app_dev, admin_settings, meta_store):
    """With the default SINGA_WEBHOOK_NETWORKS=public nothing internal may be a target: not at
    registration, and not at delivery either when a name comes to resolve to one (DNS rebinding)."""
    strict = WebhookService(meta_store, dataclasses.replace(admin_settings, webhook_networks='public'))
    with meta_store.transaction() as cur:
        owner = users_repo.get_user(cur, uuid.UUID(app_dev.id))
    for url in ('http://127.0.0.1:3000/', 'http://localhost/', 'http://10.0.0.8/', 'http://192.168.1.1/',
                'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://[::ffff:127.0.0.1]/',
                'http://0.0.0.0/', 'http://100.64.0.1/', 'http://224.0.0.1/'):
        with pytest.raises(ForbiddenError) as refused:
            strict.create(owner, NewWebhook(url))
        assert refused.value.field == 'url' and 'SINGA_WEBHOOK_NETWORKS' in refused.value.message, url
    assert strict.list_webhooks(owner) == []
    # Registered while loopback was allowed, then the policy tightens: delivery refuses to connect.
    with Receiver() as receiver:
        hook = register(api, app_dev, receiver.url)
        strict_deliverer = WebhookDeliverer(meta_store, strict.settings, strict)
        strict_deliverer.run_once()
        assert receiver.requests == []
        [delivery] = api.get(f'/webhooks/{hook["id"]}/deliveries', app_dev).get_json()
        assert delivery['status'] == 'PENDING' and 'SINGA_WEBHOOK_NETWORKS' in delivery['log'][0]['error']


def test_the_client_registers_lists_and_deletes_webhooks(admin_server, base_env):
    """Over HTTP, against the admin under gunicorn with the default policy (public addresses only)."""
    settings = Settings.from_env(base_env)
    client = Client('127.0.0.1', admin_server)
    client.login(settings.superadmin_email, settings.superadmin_password)
    # A name that resolves nowhere is accepted: the delivery worker checks it again on every connection.
    created = client.create_webhook('https://hooks.example.invalid/x', kinds=['train_job_stopped'], description='x')
    assert created['secret'].startswith('whsec_')
    with pytest.raises(ForbiddenError) as refused:
        client.create_webhook('http://10.1.2.3/hook')
    assert refused.value.status_code == 403
    assert [w['id'] for w in client.get_webhooks()] == [created['id']]
    assert client.get_webhook(created['id'])['kinds'] == ['train_job_stopped']
    assert client.get_webhook_deliveries(created['id']) == []
    client.delete_webhook(created['id'])
    assert client.get_webhooks() == []


def test_ended_deliveries_are_forgotten_after_a_month(api, app_dev, meta_store):
    with Receiver() as receiver:
        hook = register(api, app_dev, receiver.url)
        assert deliver(api, lambda: receiver.requests)
    api.ctx.webhooks.forget_old_deliveries()
    assert len(api.get(f'/webhooks/{hook["id"]}/deliveries', app_dev).get_json()) == 1
    with meta_store.transaction() as cur:
        cur.execute("UPDATE webhook_deliveries SET finished_at = now() - interval '31 days'")
    api.ctx.webhooks.forget_old_deliveries()
    assert api.get(f'/webhooks/{hook["id"]}/deliveries', app_dev).get_json() == []
