"""The ``events`` table: an append-only audit trail of significant actions, and the outbox of webhooks.

Every function takes the cursor of an open ``store.transaction()``, so an event is committed
together with the change it records, or not at all. Recording an event also queues one delivery
for each webhook of the event's owner that wants its kind (``webhook_deliveries``), in the same
transaction: a worker of the admin sends them later (``singa.admin.services.webhook_delivery``).

An event belongs to an owner, whose audit log shows it and whose webhooks receive it: the owner of
the job, template or dataset it is about, or the user account itself. When the caller does not
name the owner, it is found from ``job_id`` (a train or inference job) or ``subject_id`` (a dataset,
a template, a user). The actor is who caused it: named by the caller, or the user id in
``data['by']``; none for what the platform did by itself (an advisor, the reconciler).
"""
import datetime
import uuid
from typing import Optional

from singa.constants import EventKind
from singa.meta_store.records import EventRecord, from_rows

USER_CREATED = EventKind.USER_CREATED
USER_BANNED = EventKind.USER_BANNED
USER_UNBANNED = EventKind.USER_UNBANNED
USER_PASSWORD_CHANGED = EventKind.USER_PASSWORD_CHANGED
DATASET_CREATED = EventKind.DATASET_CREATED
DATASET_DELETED = EventKind.DATASET_DELETED
MODEL_CREATED = EventKind.MODEL_CREATED
MODEL_DELETED = EventKind.MODEL_DELETED
TRAIN_JOB_CREATED = EventKind.TRAIN_JOB_CREATED
TRAIN_JOB_STOP_REQUESTED = EventKind.TRAIN_JOB_STOP_REQUESTED
TRAIN_JOB_RESUMED = EventKind.TRAIN_JOB_RESUMED
TRAIN_JOB_BUDGET_CHANGED = EventKind.TRAIN_JOB_BUDGET_CHANGED
TRIAL_ENQUEUED = EventKind.TRIAL_ENQUEUED
SUB_TRAIN_JOB_ENDED = EventKind.SUB_TRAIN_JOB_ENDED
TRIAL_LOST = EventKind.TRIAL_LOST
SERVICE_REPLACED = EventKind.SERVICE_REPLACED

_OWNER_OF = ('coalesce(%(owner)s::uuid,'
             ' (SELECT owner_id FROM train_jobs WHERE id = %(job)s::uuid),'
             ' (SELECT owner_id FROM inference_jobs WHERE id = %(job)s::uuid),'
             ' (SELECT owner_id FROM datasets WHERE id = %(subject)s::uuid),'
             ' (SELECT owner_id FROM models WHERE id = %(subject)s::uuid),'
             ' (SELECT id FROM users WHERE id = %(subject)s::uuid))')


def record_event(cur, kind: str, *, subject_id: Optional[uuid.UUID] = None, job_id: Optional[uuid.UUID] = None,
                 data: Optional[dict] = None, owner_id: Optional[uuid.UUID] = None,
                 actor_id: Optional[uuid.UUID] = None) -> int:
    """Record an event and queue its webhook deliveries; return its id."""
    data = data or {}
    if actor_id is None:
        actor_id = _user_id(data.get('by'))
    cur.execute(f'INSERT INTO events (kind, subject_id, job_id, data, owner_id, actor_id)'
                f' VALUES (%(kind)s, %(subject)s, %(job)s, %(data)s, {_OWNER_OF}, %(actor)s) RETURNING id, owner_id',
                {'kind': str(kind), 'subject': subject_id, 'job': job_id, 'data': data, 'owner': owner_id,
                 'actor': actor_id})
    row = cur.fetchone()
    if row['owner_id'] is not None:
        cur.execute("INSERT INTO webhook_deliveries (id, webhook_id, event_id, status)"
                    " SELECT gen_random_uuid(), w.id, %s, 'PENDING' FROM webhooks w JOIN users u ON u.id = w.owner_id"
                    " WHERE w.owner_id = %s AND u.banned_at IS NULL AND (cardinality(w.kinds) = 0 OR %s = ANY(w.kinds))",
                    (row['id'], row['owner_id'], str(kind)))
    return row['id']


def list_events(cur, *, subject_id: Optional[uuid.UUID] = None, job_id: Optional[uuid.UUID] = None,
                kind: Optional[str] = None, limit: int = 1000, involving: Optional[uuid.UUID] = None,
                since: Optional[datetime.datetime] = None, until: Optional[datetime.datetime] = None,
                after_id: Optional[int] = None, before_id: Optional[int] = None,
                newest_first: bool = False) -> list[EventRecord]:
    """Events in the order they happened (``newest_first``: the other way), filtered.

    ``involving``: only events a user owns or caused. ``since`` and ``until`` bound the time
    (``since`` included, ``until`` not); ``after_id`` and ``before_id`` the id (both excluded), to page.
    """
    clauses, args = [], []
    for sql, value in (('subject_id = %s', subject_id), ('job_id = %s', job_id),
                       ('kind = %s', None if kind is None else str(kind)), ('time >= %s', since),
                       ('time < %s', until), ('id > %s', after_id), ('id < %s', before_id)):
        if value is not None:
            clauses.append(sql)
            args.append(value)
    if involving is not None:
        clauses.append('(owner_id = %s OR actor_id = %s)')
        args += [involving, involving]
    where = ('WHERE ' + ' AND '.join(clauses)) if clauses else ''
    order = 'DESC' if newest_first else 'ASC'
    cur.execute(f'SELECT * FROM events {where} ORDER BY id {order} LIMIT %s', (*args, limit))
    return from_rows(EventRecord, cur.fetchall())


def _user_id(value) -> Optional[uuid.UUID]:
    """The user id in ``data['by']``, if it is one (it may also name the configuration or a worker)."""
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None
