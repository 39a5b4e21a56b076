"""Per-user webhooks: register, list, delete, and read their delivery log; how deliveries are signed.

A webhook receives its owner's events (of the kinds it lists; every kind if none) as JSON POSTs.
Each request is signed with the webhook's own secret, shown once when it is registered:

    Singa-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body under the secret>

A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
timestamp more than a few minutes away from its clock (``SIGNATURE_TOLERANCE_SECONDS``), so a
captured request cannot be replayed later (``singa.client.verify_webhook_signature`` does all
three). The secret is derived from the token secret and a random salt kept with the webhook, so
the database alone does not give it away. ``Singa-Delivery`` is the same on every attempt at one
delivery: a receiver that saw it already can ignore the request.
"""
import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.admin.services.outbound_http import NetworkPolicy, check_url
from singa.constants import EventKind
from singa.errors import ConflictError, NotFoundError
from singa.meta_store import events, webhooks as webhooks_repo
from singa.meta_store.records import UserRecord, WebhookDeliveryRecord, WebhookRecord

MAX_WEBHOOKS_PER_USER = 20
MAX_DESCRIPTION = 500
SIGNATURE_HEADER = 'Singa-Signature'
EVENT_HEADER = 'Singa-Event'
DELIVERY_HEADER = 'Singa-Delivery'
WEBHOOK_HEADER = 'Singa-Webhook'
SIGNATURE_TOLERANCE_SECONDS = 300
SECRET_PREFIX = 'whsec_'
KEEP_DELIVERIES_DAYS = 30           # the delivery log keeps ended deliveries this long


@dataclass(frozen=True)
class NewWebhook:
    url: str
    kinds: tuple = ()               # of EventKind; empty: every kind
    description: str = ''


@dataclass(frozen=True)
class Delivery:
    delivery: WebhookDeliveryRecord
    attempts: list                  # of WebhookAttemptRecord, first first


class WebhookService:
    def __init__(self, store, settings):
        self.store = store
        self.settings = settings
        self.policy = NetworkPolicy.parse(settings.webhook_networks)
        self._key = hashlib.sha256(b'singa-webhook-secret\0' + settings.token_secret.encode()).digest()

    def create(self, actor: UserRecord, new: NewWebhook) -> tuple[WebhookRecord, str]:
        """Register a webhook; return it with its signing secret (the only time the secret is shown)."""
        url = check_url(new.url, self.policy)
        kinds = sorted({str(EventKind(k)) for k in new.kinds})
        with self.store.transaction() as cur:
            cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'webhooks:{actor.id}',))
            if webhooks_repo.count_webhooks(cur, actor.id) >= MAX_WEBHOOKS_PER_USER:
                raise ConflictError(f'you have {MAX_WEBHOOKS_PER_USER} webhooks already; delete one first',
                                    resource='webhook')
            webhook = webhooks_repo.insert_webhook(cur, owner_id=actor.id, url=url, kinds=kinds,
                                                   description=new.description, secret_salt=secrets.token_hex(16))
            events.record_event(cur, EventKind.WEBHOOK_CREATED, subject_id=webhook.id, owner_id=actor.id,
                                actor_id=actor.id, data={'url': url, 'kinds': kinds})
        return webhook, self.secret(webhook)

    def list_webhooks(self, actor: UserRecord) -> list[WebhookRecord]:
        with self.store.transaction() as cur:
            return webhooks_repo.list_webhooks(cur, actor.id)

    def get(self, actor: UserRecord, webhook_id: uuid.UUID) -> WebhookRecord:
        with self.store.transaction() as cur:
            return _own(cur, actor, webhook_id)

    def delete(self, actor: UserRecord, webhook_id: uuid.UUID) -> WebhookRecord:
        """Delete a webhook with its deliveries (those not yet sent are dropped) and their log."""
        with self.store.transaction() as cur:
            webhook = _own(cur, actor, webhook_id)
            webhooks_repo.delete_webhook(cur, webhook_id)
            events.record_event(cur, EventKind.WEBHOOK_DELETED, subject_id=webhook_id, owner_id=actor.id,
                                actor_id=actor.id, data={'url': webhook.url})
        return webhook

    def deliveries(self, actor: UserRecord, webhook_id: uuid.UUID, *, status: Optional[str] = None,
                   limit: int = 100) -> list[Delivery]:
        """The delivery log of a webhook, newest first: each delivery with every attempt at it."""
        with self.store.transaction() as cur:
            _own(cur, actor, webhook_id)
            found = webhooks_repo.list_deliveries(cur, webhook_id, status=status, limit=limit)
            attempts = webhooks_repo.list_attempts(cur, [d.id for d in found])
        return [Delivery(d, attempts.get(d.id, [])) for d in found]

    def forget_old_deliveries(self) -> None:
        """Housekeeping, run by the reconciler: ended deliveries older than ``KEEP_DELIVERIES_DAYS``."""
        with self.store.transaction() as cur:
            webhooks_repo.purge_finished(cur, KEEP_DELIVERIES_DAYS)

    def secret(self, webhook: WebhookRecord) -> str:
        digest = hmac.new(self._key, webhook.secret_salt.encode(), hashlib.sha256).digest()
        return SECRET_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Singa-Signature`` header of a request carrying ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={timestamp},v1={mac}'


def _own(cur, actor: UserRecord, webhook_id) -> WebhookRecord:
    webhook = webhooks_repo.get_webhook(cur, webhook_id)
    if webhook is None or webhook.owner_id != actor.id:
        raise NotFoundError('no such webhook', resource='webhook', id=webhook_id)
    return webhook

