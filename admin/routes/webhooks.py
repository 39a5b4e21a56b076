"""Webhooks: register, list, get and delete your own, and read their delivery log."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody, Query, path_uuid
from singa.admin.routes.guards import current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import delivery_json, webhook_json
from singa.admin.services.idempotency import KEEP_SECRET_SECONDS
from singa.admin.services.outbound_http import MAX_URL_LENGTH, URL_PATTERN
from singa.admin.services.webhooks import MAX_DESCRIPTION, MAX_WEBHOOKS_PER_USER, NewWebhook
from singa.constants import EventKind, StrEnum

bp = Blueprint('webhooks', __name__)


class DeliveryStatus(StrEnum):
    PENDING = 'PENDING'
    DELIVERED = 'DELIVERED'
    FAILED = 'FAILED'


CREATE_WEBHOOK = JsonBody(
    Field('url', str, max_length=MAX_URL_LENGTH, pattern=URL_PATTERN, hint='an http:// or https:// URL',
          description='Where to POST events; its host must lie in the networks SINGA_WEBHOOK_NETWORKS allows '
                      '(default: public addresses only)'),
    Field('kinds', list, required=False, items=Field('kind', EventKind), max_items=len(EventKind),
          description='The kinds of event to send (default: every kind)'),
    Field('description', str, required=False, default='', max_length=MAX_DESCRIPTION))
LIST_DELIVERIES = Query(Field('status', DeliveryStatus, required=False),
                        Field('limit', int, required=False, default=100, minimum=1, maximum=1000))


def _service():
    return admin_context().webhooks


@bp.post('/webhooks')
@operation('Register a webhook for your events (its signing secret is shown only in this answer)',
           body=CREATE_WEBHOOK, response='NewWebhook', errors=(403, 409),
           description='403 for a URL whose host lies outside the networks webhooks may reach (SSRF protection); '
                       f'409 when you have {MAX_WEBHOOKS_PER_USER} already. Every request is signed: see the README.')
@require_user()
@idempotent(keep_seconds=KEEP_SECRET_SECONDS)
def create_webhook():
    f = CREATE_WEBHOOK.parse()
    record, secret = _service().create(current_user(), NewWebhook(f['url'], tuple(f['kinds'] or ()),
                                                                  f['description']))
    return jsonify(dict(webhook_json(record), secret=secret))


@bp.get('/webhooks')
@operation('List your webhooks', response='Webhook', many=True)
@require_user()
def list_webhooks():
    return jsonify([webhook_json(w) for w in _service().list_webhooks(current_user())])


@bp.get('/webhooks/<webhook_id>')
@operation('Get one of your webhooks', response='Webhook', errors=(404,))
@require_user()
def get_webhook(webhook_id: str):
    return jsonify(webhook_json(_service().get(current_user(), path_uuid(webhook_id, 'webhook'))))


@bp.delete('/webhooks/<webhook_id>')
@operation('Delete one of your webhooks with its delivery log (deliveries not yet sent are dropped)',
           response='Webhook', errors=(404,))
@require_user()
def delete_webhook(webhook_id: str):
    return jsonify(webhook_json(_service().delete(current_user(), path_uuid(webhook_id, 'webhook'))))


@bp.get('/webhooks/<webhook_id>/deliveries')
@operation('The delivery log of a webhook: each delivery, newest first, with every attempt at it',
           query=LIST_DELIVERIES, response='WebhookDelivery', many=True, errors=(404,))
@require_user()
def list_deliveries(webhook_id: str):
    f = LIST_DELIVERIES.parse()
    found = _service().deliveries(current_user(), path_uuid(webhook_id, 'webhook'), status=f['status'],
                                  limit=f['limit'])
    return jsonify([delivery_json(d) for d in found])

