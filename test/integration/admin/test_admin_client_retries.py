"""The client against the admin under gunicorn behind a front that loses answers, closes kept-alive
connections and answers 503: it retries within bounds, and a creating request retried with its
Idempotency-Key is acted on once."""
import time

import pytest

from admin_helpers import CLASSIFICATION_CSV
from flaky_front import FlakyFront
from singa.client import Client, RetryPolicy
from singa.errors import ServiceUnavailableError

STRONG = 'correct horse battery staple'


@pytest.fixture
def boss(admin_server, base_env):
    """A logged-in superadmin client straight to the admin (no front)."""
    client = Client('127.0.0.1', admin_server)
    client.login(base_env['SINGA_SUPERADMIN_EMAIL'], base_env['SINGA_SUPERADMIN_PASSWORD'])
    return client


def through(front: FlakyFront, boss: Client, **kwargs) -> Client:
    client = Client('127.0.0.1', front.port, **kwargs)
    client._token = boss._token     # the same session, reached through the front
    return client


def test_a_post_whose_answer_was_lost_is_retried_and_acted_on_once(admin_server, boss):
    with FlakyFront(admin_server, {('POST', '/users'): ['lose-answer']}) as front:
        created = through(front, boss).create_user('dev@example.com', STRONG, 'MODEL_DEVELOPER')
    assert created['email'] == 'dev@example.com'
    [first, retry] = front.requests_to('POST', '/users')
    assert first[0]['Idempotency-Key'] == retry[0]['Idempotency-Key'] and first[1] == retry[1]
    assert [u['email'] for u in boss.get_users()].count('dev@example.com') == 1


def test_an_upload_whose_answer_was_lost_is_sent_again_whole_and_stored_once(admin_server, boss, tmp_path):
    path = tmp_path / 'train.csv'
    path.write_bytes(CLASSIFICATION_CSV)
    with FlakyFront(admin_server, {('POST', '/datasets'): ['lose-answer', '503']}) as front:
        dataset = through(front, boss).create_dataset('train', 'TABULAR_CLASSIFICATION', str(path))
    attempts = front.requests_to('POST', '/datasets')
    assert len(attempts) == 3 and len({h['Idempotency-Key'] for h, _ in attempts}) == 1
    assert len({body for _, body in attempts}) == 1 and CLASSIFICATION_CSV in attempts[0][1]
    assert dataset['stat']['rows'] == 3 and [d['id'] for d in boss.get_datasets()] == [dataset['id']]


def test_reads_are_retried_when_the_server_closes_the_connection_or_is_busy(admin_server, boss):
    plan = {('GET', '/users/me'): ['close', 'close', '503']}
    with FlakyFront(admin_server, plan) as front:
        client = through(front, boss)
        started = time.monotonic()
        assert client.get_current_user()['user_type'] == 'SUPERADMIN'
        waited = time.monotonic() - started
        # Kept-alive connections the front closes between polls, as gunicorn does after 2 s.
        for _ in range(3):
            front.plans[('GET', '/users/me')] = ['close']
            assert client.get_current_user()['user_type'] == 'SUPERADMIN'
    assert len(front.requests_to('GET', '/users/me')) == 4 + 3 * 2
    assert waited >= 1.0        # the 503's Retry-After: 1 was respected


def test_retries_are_bounded_in_tries_and_in_time(admin_server, boss):
    with FlakyFront(admin_server, {('GET', '/users/me'): ['503'] * 100}) as front:
        with pytest.raises(ServiceUnavailableError) as busy:
            through(front, boss, retry=RetryPolicy(attempts=3)).get_current_user()
        assert busy.value.status_code == 503 and len(front.requests_to('GET', '/users/me')) == 3
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError):
            through(front, boss, retry=RetryPolicy(attempts=100, total_seconds=2.5)).get_current_user()
        assert time.monotonic() - started < 3.5 and len(front.requests_to('GET', '/users/me')) <= 3 + 3
    with FlakyFront(admin_server, {('GET', '/users/me'): ['close'] * 100}) as front:
        with pytest.raises(ServiceUnavailableError, match='cannot reach the admin'):
            through(front, boss, retry=RetryPolicy(attempts=4, first_backoff=0.01)).get_current_user()
        assert len(front.requests_to('GET', '/users/me')) == 4
