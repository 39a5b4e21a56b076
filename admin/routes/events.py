"""The audit log: the platform's events (admins see every one, other users their own)."""
import datetime
import uuid

from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, Query
from singa.admin.routes.guards import current_user, require_user
from singa.admin.services import events
from singa.admin.services.events import DEFAULT_PAGE, MAX_EVENT_ID, MAX_PAGE, EventQuery, event_json
from singa.constants import EventKind, StrEnum

bp = Blueprint('events', __name__)


class Order(StrEnum):
    DESC = 'desc'
    ASC = 'asc'


LIST_EVENTS = Query(
    Field('kind', EventKind, required=False, description='Only events of this kind'),
    Field('user_id', uuid.UUID, required=False, description='Admins: only events this user owns or caused'),
    Field('job_id', uuid.UUID, required=False, description='Only events of this train or inference job'),
    Field('since', datetime.datetime, required=False, description='Only events at or after this time'),
    Field('until', datetime.datetime, required=False, description='Only events before this time'),
    Field('after_id', int, required=False, minimum=0, maximum=MAX_EVENT_ID, description='Only events after this id'),
    Field('before_id', int, required=False, minimum=0, maximum=MAX_EVENT_ID,
          description='Only events before this id (the last id of the previous page, newest first)'),
    Field('limit', int, required=False, default=DEFAULT_PAGE, minimum=1, maximum=MAX_PAGE),
    Field('order', Order, required=False, default=Order.DESC,
          description='"desc": newest first (page with before_id); "asc": oldest first (follow with after_id)'))


@bp.get('/events')
@operation('The audit log: who did what, and what the platform did', query=LIST_EVENTS, response='Event', many=True,
           errors=(404,),
           description='Admins see every event; other users the events they own (their account, datasets, templates '
                       'and jobs) and those they caused. 404 for a user_id that is not the caller\'s own (non-admins).')
@require_user()
def list_events():
    f = LIST_EVENTS.parse()
    query = EventQuery(kind=f['kind'], user_id=f['user_id'], job_id=f['job_id'], since=f['since'], until=f['until'],
                       after_id=f['after_id'], before_id=f['before_id'], limit=f['limit'],
                       newest_first=f['order'] == Order.DESC)
    return jsonify([event_json(e) for e in events.list_events(admin_context().meta_store, current_user(), query)])
