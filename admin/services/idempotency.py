"""Idempotency keys: a creating request retried with the same key gets the first answer again.

A client that cannot tell whether its request arrived (the connection broke, the admin answered
503) sends it again with the same ``Idempotency-Key`` header (the Python client sends a fresh
UUID per call and the same one on each retry; see the IETF draft "The Idempotency-Key HTTP Header
Field"). For each user and key the admin keeps the first request's fingerprint and, once it
completed, its answer for ``KEEP_SECONDS`` (an answer carrying a secret, a new prediction key,
only ``KEEP_SECRET_SECONDS``: long enough for any retry, short for a secret at rest):

* the same key with the same request (method, path, query and body): the stored answer, replayed
  (the request is not run again), or 409 ``RequestInProgressError`` with ``Retry-After`` while the
  first is still being processed;
* the same key with a different request: 422 ``IdempotencyKeyReusedError``;
* an answer of the server's own failure (5xx) is not kept: a retry runs the request again.

The fingerprint is an HMAC under the token secret, so a stored row reveals nothing of a body
(a password change's passwords, say). An upload is fingerprinted by its form's framing (content
type with its random boundary, and length), not its bytes, which are streamed to disk and not
read twice; the client re-sends the same framing on a retry. A first request whose admin process
died is taken over by a retry after ``LEASE_SECONDS``. Answers are stored in PostgreSQL, so every
admin process sees them.
"""
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.errors import IdempotencyKeyReusedError, InvalidRequestError, RequestInProgressError
from singa.meta_store import idempotency as idempotency_repo
from singa.meta_store.db import MetaStore

HEADER = 'Idempotency-Key'
KEEP_SECONDS = 24 * 3600
KEEP_SECRET_SECONDS = 600       # an answer that carries a secret (a new prediction key) is kept briefly
LEASE_SECONDS = 600
MAX_KEY_LENGTH = 255
RETRY_IN_PROGRESS_SECONDS = 1


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    content_type: str


class IdempotencyKeys:
    def __init__(self, store: MetaStore, secret: str):
        self.store = store
        self._mac_key = hashlib.sha256(b'singa-idempotency\0' + secret.encode('utf-8')).digest()

    def fingerprint(self, method: str, path: str, query: bytes, content_type: str, body: bytes) -> str:
        mac = hmac.new(self._mac_key, digestmod=hashlib.sha256)
        for part in (method.encode(), path.encode(), query, content_type.encode(), body):
            mac.update(len(part).to_bytes(8, 'big') + part)
        return mac.hexdigest()

    def begin(self, user_id: uuid.UUID, key: str, fingerprint: str,
              keep_seconds: float = KEEP_SECONDS) -> Optional[StoredAnswer]:
        """None if the request is new and now ours to run (then ``finish`` or ``abandon`` it); the
        stored answer to replay if it ran already. Raises ``IdempotencyKeyReusedError`` (another
        request under this key) or ``RequestInProgressError`` (the first is still running)."""
        check_key(key)
        for _ in range(3):      # a claim released between our insert and our read: claim again
            with self.store.transaction() as cur:
                claimed, row = idempotency_repo.claim(cur, user_id, key, fingerprint, keep_seconds, LEASE_SECONDS)
            if claimed:
                return None
            if row is None:
                continue
            if not hmac.compare_digest(row.fingerprint, fingerprint):
                raise IdempotencyKeyReusedError(
                    f'this {HEADER} was used for a different request (another method, path or body); '
                    'send a new key for a new request', field=HEADER)
            if row.status is not None:
                return StoredAnswer(row.status, row.body or b'', row.content_type or 'application/json')
            break
        raise RequestInProgressError(f'a request with this {HEADER} is still being processed; retry later',
                                     field=HEADER, details={'retry_after': RETRY_IN_PROGRESS_SECONDS})

    def finish(self, user_id: uuid.UUID, key: str, answer: StoredAnswer) -> None:
        with self.store.transaction() as cur:
            idempotency_repo.complete(cur, user_id, key, answer.status, answer.body, answer.content_type)

    def abandon(self, user_id: uuid.UUID, key: str) -> None:
        with self.store.transaction() as cur:
            idempotency_repo.release(cur, user_id, key)

    def purge(self) -> int:
        """Forget expired answers (the reconciler's housekeeping)."""
        with self.store.transaction() as cur:
            return idempotency_repo.purge_expired(cur)


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all('!' <= c <= '~' for c in key):
        raise InvalidRequestError(f'{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters '
                                  '(a UUID, say)', field=HEADER)
