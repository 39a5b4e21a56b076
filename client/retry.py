"""When and how the client sends a request again.

A request is sent again when it may not have arrived or the server could not serve it just then:

* the connection failed or broke (refused, reset, closed by the server after its keep-alive
  time: gunicorn closes an idle kept-alive connection after 2 s, exactly when a 2 s poll reuses it),
  or no answer came in time;
* the answer was 502, 503 or 504, or a 409 ``RequestInProgressError`` (the first of two requests
  with the same idempotency key still runs).

It waits between tries with exponential backoff and jitter (0.25 s, 0.5 s, 1 s, ... at most 8 s,
each a random 50 to 100 % of that), or what the answer's ``Retry-After`` asks if longer, within a
bounded number of tries and a bounded total time; a wait that would pass the total time is not
begun. Every request the client sends is safe to repeat: reads by nature, and every request that
changes something carries an ``Idempotency-Key`` (the same on each try) that the admin uses to
answer a repeat with the first answer instead of acting twice, or is idempotent as it is.
"""
import email.utils
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional

import requests

RETRIED_STATUSES = frozenset({502, 503, 504})
IN_PROGRESS_ERROR = 'RequestInProgressError'


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` tries at most (1: never retry), within ``total_seconds`` from the first. By
    default the 30 s bind, not the tries: enough to ride out an admin that Swarm restarts (5 s
    before the restart, then its start), which 6 tries (4 to 8 s of waiting) were not."""
    attempts: int = 10
    first_backoff: float = 0.25
    max_backoff: float = 8.0
    total_seconds: float = 30.0

    def __post_init__(self):
        if self.attempts < 1 or self.first_backoff < 0 or self.max_backoff < 0 or self.total_seconds < 0:
            raise ValueError('a retry policy needs attempts >= 1 and backoffs and total time >= 0')

    def backoff(self, attempt: int) -> float:
        """The wait after try number ``attempt`` (1-based), jittered."""
        return min(self.first_backoff * 2 ** min(attempt - 1, 32), self.max_backoff) * random.uniform(0.5, 1.0)

    def run(self, send: Callable[[], requests.Response], *, sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> requests.Response:
        """Call ``send`` until its answer is not worth another try, or the tries or the time run out.

        Returns the last answer (a 503 too, when the tries ran out); raises the last connection error
        or timeout when no try got an answer.
        """
        started = clock()
        for attempt in range(1, self.attempts + 1):
            try:
                response = send()
            except requests.exceptions.SSLError:
                raise
            except (requests.ConnectionError, requests.Timeout):
                wait = self.backoff(attempt)
                if not self._may_wait(attempt, wait, clock() - started):
                    raise
            else:
                if not worth_retrying(response):
                    return response
                wait = max(self.backoff(attempt), retry_after_seconds(response) or 0.0)
                if not self._may_wait(attempt, wait, clock() - started):
                    return response
                response.close()
            sleep(wait)
        raise AssertionError('unreachable: the last try returns or raises')

    def _may_wait(self, attempt: int, wait: float, elapsed: float) -> bool:
        return attempt < self.attempts and elapsed + wait <= self.total_seconds


def worth_retrying(response: requests.Response) -> bool:
    if response.status_code in RETRIED_STATUSES:
        return True
    if response.status_code == 409:
        try:
            return response.json()['error']['type'] == IN_PROGRESS_ERROR
        except (ValueError, KeyError, TypeError):
            return False
    return False


def retry_after_seconds(response: requests.Response) -> Optional[float]:
    """``Retry-After`` in seconds (it may be a number of seconds or an HTTP date), or None."""
    value = (response.headers.get('Retry-After') or '').strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
