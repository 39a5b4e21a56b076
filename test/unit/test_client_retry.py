"""The client's retry policy: which answers are worth another try, how long to wait, and its bounds.
The requests themselves are exercised against a real server in test/integration/admin."""
import email.utils
import time

import pytest
import requests

from singa.client.retry import RetryPolicy, retry_after_seconds, worth_retrying


def answer(status: int, body: bytes = b'', **headers) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content, response._content_consumed = body, True
    response.headers.update(headers)
    return response


def test_the_statuses_worth_another_try():
    assert [worth_retrying(answer(s)) for s in (200, 400, 401, 404, 409, 429, 500, 502, 503, 504)] == \
        [False] * 7 + [True] * 3
    busy = b'{"error": {"type": "RequestInProgressError", "message": "still running"}}'
    assert worth_retrying(answer(409, busy)) and not worth_retrying(answer(409, b'{"error": {"type": "Conflict'))


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds(answer(503, **{'Retry-After': '7'})) == 7
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= retry_after_seconds(answer(503, **{'Retry-After': later})) <= 30
    assert retry_after_seconds(answer(503, **{'Retry-After': 'soon'})) is None
    assert retry_after_seconds(answer(503)) is None


def test_backoff_doubles_with_jitter_up_to_its_bound():
    policy = RetryPolicy(first_backoff=0.25, max_backoff=2.0)
    for attempt, full in ((1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (9, 2.0)):
        assert all(full / 2 <= policy.backoff(attempt) <= full for _ in range(50))
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_tries_and_total_time_are_bounded():
    clock = [0.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        clock[0] += seconds

    def refused():
        raise requests.ConnectionError('refused')

    with pytest.raises(requests.ConnectionError):
        RetryPolicy(attempts=4).run(refused, sleep=sleep, clock=lambda: clock[0])
    assert len(waits) == 3
    waits.clear()
    busy = RetryPolicy(attempts=50, total_seconds=10).run(lambda: answer(503, **{'Retry-After': '4'}),
                                                          sleep=sleep, clock=lambda: clock[0])
    assert busy.status_code == 503 and waits == [4.0, 4.0]      # a third wait would pass 10 s
