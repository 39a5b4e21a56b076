"""Repository of webhooks, their deliveries and the attempts at them (the delivery log).

Deliveries are queued by ``events.record_event``. An admin process claims the ones due with
``claim_due`` (rows locked with SKIP LOCKED, then leased with ``claimed_until``, so that several
processes share the work and none holds a transaction open while it sends), and records each
attempt with ``record_attempt``.
"""
import datetime
import uuid
from typing import Optional

from singa.meta_store.records import (EventRecord, WebhookAttemptRecord, WebhookDeliveryRecord, WebhookRecord,
                                      from_row, from_rows)

PENDING, DELIVERED, FAILED = 'PENDING', 'DELIVERED', 'FAILED'
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED)


def insert_webhook(cur, *, owner_id, url: str, kinds: list, description: str, secret_salt: str) -> WebhookRecord:
    cur.execute('INSERT INTO webhooks (id, owner_id, url, kinds, description, secret_salt)'
                ' VALUES (%s, %s, %s, %s, %s, %s) RETURNING *',
                (uuid.uuid4(), owner_id, url, list(kinds), description, secret_salt))
    return from_row(WebhookRecord, cur.fetchone())


def get_webhook(cur, webhook_id) -> Optional[WebhookRecord]:
    cur.execute('SELECT * FROM webhooks WHERE id = %s', (webhook_id,))
    return from_row(WebhookRecord, cur.fetchone())


def list_webhooks(cur, owner_id) -> list[WebhookRecord]:
    cur.execute('SELECT * FROM webhooks WHERE owner_id = %s ORDER BY created_at, id', (owner_id,))
    return from_rows(WebhookRecord, cur.fetchall())


def count_webhooks(cur, owner_id) -> int:
    cur.execute('SELECT count(*) AS n FROM webhooks WHERE owner_id = %s', (owner_id,))
    return cur.fetchone()['n']


def delete_webhook(cur, webhook_id) -> None:
    cur.execute('DELETE FROM webhooks WHERE id = %s', (webhook_id,))


def claim_due(cur, limit: int, lease_seconds: float) -> list[tuple[WebhookDeliveryRecord, WebhookRecord, EventRecord]]:
    """Lease up to ``limit`` pending deliveries that are due and not leased by another process, the
    longest due first (events in the order they happened, unless a retry came between)."""
    cur.execute(
        "UPDATE webhook_deliveries d SET claimed_until = now() + %s * interval '1 second' WHERE d.id IN ("
        "  SELECT id FROM webhook_deliveries WHERE status = 'PENDING' AND next_attempt_at <= now()"
        '  AND (claimed_until IS NULL OR claimed_until < now()) ORDER BY next_attempt_at LIMIT %s'
        '  FOR UPDATE SKIP LOCKED) RETURNING d.*', (lease_seconds, limit))
    deliveries = sorted(from_rows(WebhookDeliveryRecord, cur.fetchall()), key=lambda d: (d.next_attempt_at, d.event_id))
    claimed = []
    for delivery in deliveries:
        cur.execute('SELECT * FROM webhooks WHERE id = %s', (delivery.webhook_id,))
        webhook = from_row(WebhookRecord, cur.fetchone())
        cur.execute('SELECT * FROM events WHERE id = %s', (delivery.event_id,))
        event = from_row(EventRecord, cur.fetchone())
        if webhook is not None and event is not None:
            claimed.append((delivery, webhook, event))
    return claimed


def record_attempt(cur, delivery_id, *, attempt: int, status_code: Optional[int], error: Optional[str],
                   duration_ms: float, delivered: bool, retry_at: Optional[datetime.datetime]) -> None:
    """Log one attempt and move the delivery on: DELIVERED, PENDING until ``retry_at``, or FAILED
    when there is no ``retry_at``."""
    cur.execute('INSERT INTO webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)'
                ' VALUES (%s, %s, %s, %s, %s)', (delivery_id, attempt, status_code, error, duration_ms))
    status = DELIVERED if delivered else (PENDING if retry_at is not None else FAILED)
    cur.execute('UPDATE webhook_deliveries SET status = %s, attempts = %s, last_error = %s, claimed_until = NULL,'
                ' next_attempt_at = coalesce(%s, next_attempt_at),'
                ' finished_at = CASE WHEN %s THEN now() ELSE NULL END WHERE id = %s',
                (status, attempt, None if delivered else error, retry_at, status != PENDING, delivery_id))


def list_deliveries(cur, webhook_id, *, status: Optional[str] = None, limit: int = 100,
                    before: Optional[datetime.datetime] = None) -> list[WebhookDeliveryRecord]:
    """A webhook's deliveries with the kind of their event, newest first."""
    clauses, args = ['d.webhook_id = %s'], [webhook_id]
    for sql, value in (('d.status = %s', status), ('d.created_at < %s', before)):
        if value is not None:
            clauses.append(sql)
            args.append(value)
    cur.execute('SELECT d.*, e.kind AS event_kind FROM webhook_deliveries d JOIN events e ON e.id = d.event_id'
                f' WHERE {" AND ".join(clauses)} ORDER BY d.created_at DESC, d.id LIMIT %s', (*args, limit))
    return from_rows(WebhookDeliveryRecord, cur.fetchall())


def list_attempts(cur, delivery_ids: list) -> dict:
    """Delivery id -> its attempts, first first."""
    cur.execute('SELECT * FROM webhook_attempts WHERE delivery_id = ANY(%s) ORDER BY id', (list(delivery_ids),))
    found: dict = {}
    for attempt in from_rows(WebhookAttemptRecord, cur.fetchall()):
        found.setdefault(attempt.delivery_id, []).append(attempt)
    return found


def purge_finished(cur, older_than_days: int) -> int:
    """Forget deliveries that ended (DELIVERED or FAILED) more than ``older_than_days`` ago, with their attempts."""
    cur.execute("DELETE FROM webhook_deliveries WHERE status <> 'PENDING'"
                " AND finished_at < now() - %s * interval '1 day'", (older_than_days,))
    return cur.rowcount
