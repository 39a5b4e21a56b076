"""The webhook delivery worker: a thread in every admin process that sends the deliveries due.

Every ``settings.webhook_poll_seconds`` it leases a few pending deliveries that are due (rows are
claimed with SKIP LOCKED and a lease, so admin processes share the work and a process that dies
mid-send only delays a delivery until its lease lapses), POSTs each event to its webhook with the
signature headers (``webhooks.signature``), and logs the attempt. A 2xx answer delivers it; anything
else (another status, a refused or timed-out connection, an address outside
``SINGA_WEBHOOK_NETWORKS``) is retried with exponential backoff: after attempt n the next waits
``min(webhook_backoff_seconds * 2 ** (n - 1), webhook_max_backoff)``, and after
``webhook_max_attempts`` attempts the delivery is FAILED. Redirects are not followed.
"""
import datetime
import json
import logging
import re
import threading
import time
from typing import Callable, Optional

import requests

from singa.admin.services.events import event_json
from singa.admin.services.outbound_http import checked_session
from singa.admin.services.webhooks import (DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WEBHOOK_HEADER,
                                           WebhookService, signature)
from singa.errors import SingaError
from singa.meta_store import webhooks as webhooks_repo

log = logging.getLogger(__name__)

BATCH = 20
MAX_ERROR_LENGTH = 500
USER_AGENT = 'SingaAuto-Webhook/1'


class WebhookDeliverer:
    def __init__(self, store, settings, webhooks: WebhookService,
                 clock: Callable[[], datetime.datetime] = None):
        self.store = store
        self.settings = settings
        self.webhooks = webhooks
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self.session = checked_session(webhooks.policy)
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()

    def retry_at(self, attempt: int) -> Optional[datetime.datetime]:
        """When to try again after failed attempt number ``attempt`` (1 for the first); None: give up."""
        s = self.settings
        if attempt >= s.webhook_max_attempts:
            return None
        delay = min(s.webhook_backoff_seconds * 2 ** (attempt - 1), s.webhook_max_backoff)
        return self.clock() + datetime.timedelta(seconds=delay)

    def run_once(self) -> int:
        """Send every delivery due now (in batches); return how many were attempted."""
        lease = self.settings.webhook_timeout_seconds * BATCH + 30
        sent = 0
        while not self._stopped.is_set():
            with self.store.transaction() as cur:
                claimed = webhooks_repo.claim_due(cur, BATCH, lease)
            for delivery, webhook, event in claimed:
                self._attempt(delivery, webhook, event)
            sent += len(claimed)
            if len(claimed) < BATCH:
                break
        return sent

    def _attempt(self, delivery, webhook, event) -> None:
        attempt = delivery.attempts + 1
        body = json.dumps(event_json(event), separators=(',', ':')).encode('utf-8')
        headers = {'Content-Type': 'application/json', 'User-Agent': USER_AGENT, EVENT_HEADER: event.kind,
                   DELIVERY_HEADER: str(delivery.id), WEBHOOK_HEADER: str(webhook.id),
                   SIGNATURE_HEADER: signature(self.webhooks.secret(webhook), int(time.time()), body)}
        started = time.monotonic()
        status_code, error = None, None
        try:
            with self.session.post(webhook.url, data=body, headers=headers, allow_redirects=False, stream=True,
                                   timeout=self.settings.webhook_timeout_seconds) as response:
                status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f'the receiver answered HTTP {status_code}'
        except requests.RequestException as e:
            error = _describe(e)
        duration_ms = (time.monotonic() - started) * 1000
        delivered = error is None
        retry_at = None if delivered else self.retry_at(attempt)
        with self.store.transaction() as cur:
            webhooks_repo.record_attempt(cur, delivery.id, attempt=attempt, status_code=status_code, error=error,
                                         duration_ms=duration_ms, delivered=delivered, retry_at=retry_at)
        if not delivered:
            log.info('webhook %s, event %s: attempt %d failed (%s)%s', webhook.id, event.id, attempt, error,
                     '' if retry_at else '; giving up')

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name='webhook-delivery', daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_timeout_seconds + 5)

    def _run(self) -> None:
        while not self._stopped.wait(self.settings.webhook_poll_seconds):
            try:
                self.run_once()
            except SingaError as e:
                log.warning('webhook delivery: %s', e)
            except Exception:  # noqa: BLE001 - the worker must outlive any one bad round
                log.exception('webhook delivery round failed')


def _describe(e: requests.RequestException) -> str:
    """A short reason for a failed attempt: urllib3's innermost reason, without its connection's name."""
    reason = getattr(e.args[0], 'reason', None) if e.args else None
    text = re.sub(r'^\w+\(host=[^)]*\): ', '', str(reason or e))
    return f'the request {"timed out" if isinstance(e, requests.Timeout) else "failed"}: {text}'[:MAX_ERROR_LENGTH]
