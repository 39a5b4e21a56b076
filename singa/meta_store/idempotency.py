"""The ``idempotent_requests`` table: answers of creating requests, kept to replay them for a retry.

A request sent with an ``Idempotency-Key`` first *claims* the key (a row with no status); when it
completes, its answer is stored in the row until ``expires_at``. A claim whose request never
completed (its admin process died) can be taken over once it is older than the caller's lease.
Each function takes the cursor of an open ``store.transaction()``.
"""
import uuid
from typing import Optional

from singa.meta_store.records import IdempotentRequestRecord, from_row


def claim(cur, user_id: uuid.UUID, key: str, fingerprint: str, keep_seconds: float,
          lease_seconds: float) -> tuple[bool, IdempotentRequestRecord]:
    """Claim ``(user_id, key)`` for a new request: ``(True, row)`` if it is now ours (new, expired, or
    abandoned for longer than ``lease_seconds``), else ``(False, the row that holds it)``."""
    cur.execute('INSERT INTO idempotent_requests (user_id, key, fingerprint, expires_at)'
                ' VALUES (%s, %s, %s, now() + make_interval(secs => %s))'
                ' ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = NULL,'
                '  body = NULL, content_type = NULL, created_at = now(), expires_at = EXCLUDED.expires_at'
                ' WHERE idempotent_requests.expires_at < now() OR (idempotent_requests.status IS NULL'
                '  AND idempotent_requests.created_at < now() - make_interval(secs => %s))'
                ' RETURNING *', (user_id, key, fingerprint, float(keep_seconds), float(lease_seconds)))
    row = cur.fetchone()
    if row is not None:
        return True, _record(row)
    cur.execute('SELECT * FROM idempotent_requests WHERE user_id = %s AND key = %s', (user_id, key))
    return False, _record(cur.fetchone())


def complete(cur, user_id: uuid.UUID, key: str, status: int, body: bytes, content_type: str) -> None:
    cur.execute('UPDATE idempotent_requests SET status = %s, body = %s, content_type = %s'
                ' WHERE user_id = %s AND key = %s', (status, body, content_type, user_id, key))


def release(cur, user_id: uuid.UUID, key: str) -> None:
    """Give a claim up (its request failed on the server's side), so that a retry runs again."""
    cur.execute('DELETE FROM idempotent_requests WHERE user_id = %s AND key = %s AND status IS NULL',
                (user_id, key))


def purge_expired(cur) -> int:
    cur.execute('DELETE FROM idempotent_requests WHERE expires_at < now()')
    return cur.rowcount


def _record(row: Optional[dict]) -> Optional[IdempotentRequestRecord]:
    if row is not None and row.get('body') is not None:
        row = dict(row, body=bytes(row['body']))
    return from_row(IdempotentRequestRecord, row)
