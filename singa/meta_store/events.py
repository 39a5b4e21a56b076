"""The ``events`` table: an append-only audit trail of significant actions.

Every function takes the cursor of an open ``store.transaction()``, so an event is committed
together with the change it records, or not at all.
"""
import uuid
from typing import Optional

from singa.meta_store.records import EventRecord, from_rows

USER_CREATED = 'user_created'
USER_BANNED = 'user_banned'
USER_UNBANNED = 'user_unbanned'
USER_PASSWORD_CHANGED = 'user_password_changed'
DATASET_CREATED = 'dataset_created'
DATASET_DELETED = 'dataset_deleted'
MODEL_CREATED = 'model_created'
MODEL_DELETED = 'model_deleted'
TRAIN_JOB_CREATED = 'train_job_created'
TRAIN_JOB_STOP_REQUESTED = 'train_job_stop_requested'
SUB_TRAIN_JOB_ENDED = 'sub_train_job_ended'
INFERENCE_JOB_CREATED = 'inference_job_created'
INFERENCE_JOB_ENDED = 'inference_job_ended'
TRIAL_LOST = 'trial_lost'
SERVICE_REPLACED = 'service_replaced'


def record_event(cur, kind: str, *, subject_id: Optional[uuid.UUID] = None,
                 job_id: Optional[uuid.UUID] = None, data: Optional[dict] = None) -> None:
    cur.execute('INSERT INTO events (kind, subject_id, job_id, data) VALUES (%s, %s, %s, %s)',
                (kind, subject_id, job_id, data or {}))


def list_events(cur, *, subject_id: Optional[uuid.UUID] = None, job_id: Optional[uuid.UUID] = None,
                kind: Optional[str] = None, limit: int = 1000) -> list[EventRecord]:
    """Events in the order they happened, optionally filtered."""
    clauses, args = [], []
    for column, value in (('subject_id', subject_id), ('job_id', job_id), ('kind', kind)):
        if value is not None:
            clauses.append(f'{column} = %s')
            args.append(value)
    where = ('WHERE ' + ' AND '.join(clauses)) if clauses else ''
    cur.execute(f'SELECT * FROM events {where} ORDER BY id LIMIT %s', (*args, limit))
    return from_rows(EventRecord, cur.fetchall())
