"""The audit log: the platform's events, as the API and webhooks show them.

Admins see every event; any other user sees the events they own (about their account, datasets,
templates and jobs) and those they caused. Pages are newest first by default; a reader that
follows the log asks with ``order=asc`` and ``after_id`` set to the last id it saw.
"""
import datetime
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.constants import ADMIN_TYPES, EventKind
from singa.errors import NotFoundError
from singa.meta_store import events as events_repo
from singa.meta_store.records import EventRecord, UserRecord

MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_EVENT_ID = 2 ** 63 - 1


@dataclass(frozen=True)
class EventQuery:
    kind: Optional[EventKind] = None
    user_id: Optional[uuid.UUID] = None         # admins: the events a user owns or caused
    job_id: Optional[uuid.UUID] = None
    since: Optional[datetime.datetime] = None
    until: Optional[datetime.datetime] = None
    after_id: Optional[int] = None
    before_id: Optional[int] = None
    limit: int = DEFAULT_PAGE
    newest_first: bool = True


def list_events(store, actor: UserRecord, query: EventQuery) -> list[EventRecord]:
    involving = query.user_id
    if actor.user_type not in ADMIN_TYPES:
        if involving is not None and involving != actor.id:
            raise NotFoundError('no such user', resource='user', id=involving, field='user_id')
        involving = actor.id
    with store.transaction() as cur:
        return events_repo.list_events(cur, kind=query.kind, involving=involving, job_id=query.job_id,
                                       since=query.since, until=query.until, after_id=query.after_id,
                                       before_id=query.before_id, limit=query.limit,
                                       newest_first=query.newest_first)


def event_json(event: EventRecord) -> dict:
    """An event as the API answers it and webhooks receive it."""
    return {'id': event.id, 'kind': event.kind, 'time': event.time.isoformat(), 'owner_id': _str(event.owner_id),
            'actor_id': _str(event.actor_id), 'job_id': _str(event.job_id), 'subject_id': _str(event.subject_id),
            'data': event.data}


def _str(value) -> Optional[str]:
    return None if value is None else str(value)
