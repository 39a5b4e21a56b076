"""Repository of inference jobs and their prediction keys. Functions take a ``transaction()`` cursor."""
import uuid
from typing import Optional

from psycopg2.extras import Json

from singa.constants import EventKind, InferenceJobStatus
from singa.meta_store import events
from singa.meta_store.records import InferenceJobRecord, PredictionKeyRecord, from_row, from_rows, where


def insert_inference_job(cur, *, owner_id, train_job_id=None, model_id=None, budget: dict, config: dict,
                         is_public: bool, description: str) -> InferenceJobRecord:
    """A job of a train job's trials, or (``model_id``) of a template's checkpoint: one of the two."""
    cur.execute('INSERT INTO inference_jobs (id, owner_id, train_job_id, model_id, status, budget, config, is_public,'
                ' description, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now()) RETURNING *',
                (uuid.uuid4(), owner_id, train_job_id, model_id, InferenceJobStatus.STARTED.value, Json(budget),
                 Json(config), is_public, description))
    return from_row(InferenceJobRecord, cur.fetchone())


def get_inference_job(cur, job_id, *, for_update: bool = False) -> Optional[InferenceJobRecord]:
    cur.execute('SELECT * FROM inference_jobs WHERE id = %s' + (' FOR UPDATE' if for_update else ''), (job_id,))
    return from_row(InferenceJobRecord, cur.fetchone())


def get_for_train_job(cur, train_job_id) -> Optional[InferenceJobRecord]:
    """The live inference job of a train job, else its latest one."""
    cur.execute('SELECT * FROM inference_jobs WHERE train_job_id = %s'
                ' ORDER BY (status = ANY(%s)) DESC, created_at DESC LIMIT 1',
                (train_job_id, list(InferenceJobStatus.LIVE)))
    return from_row(InferenceJobRecord, cur.fetchone())


def get_for_model(cur, model_id) -> Optional[InferenceJobRecord]:
    """The live checkpoint inference job of a template, else its latest one."""
    cur.execute('SELECT * FROM inference_jobs WHERE model_id = %s'
                ' ORDER BY (status = ANY(%s)) DESC, created_at DESC LIMIT 1', (model_id, list(InferenceJobStatus.LIVE)))
    return from_row(InferenceJobRecord, cur.fetchone())


def list_inference_jobs(cur, *, owner_id=None, app: Optional[str] = None,
                        statuses: Optional[tuple] = None) -> list[InferenceJobRecord]:
    """Newest first; a checkpoint job's app is its template's name."""
    clause, args = where(('i.owner_id = %s', owner_id), ('coalesce(j.app, m.name) = %s', app),
                         ('i.status = ANY(%s)', list(statuses) if statuses else None))
    cur.execute('SELECT i.* FROM inference_jobs i LEFT JOIN train_jobs j ON j.id = i.train_job_id'
                f' LEFT JOIN models m ON m.id = i.model_id{clause} ORDER BY i.created_at DESC', args)
    return from_rows(InferenceJobRecord, cur.fetchall())


def set_predictor_service(cur, job_id, service_id) -> None:
    cur.execute('UPDATE inference_jobs SET predictor_service_id = %s WHERE id = %s', (service_id, job_id))


_STATUS_EVENTS = {InferenceJobStatus.RUNNING: EventKind.INFERENCE_JOB_READY,
                   InferenceJobStatus.STOPPED: EventKind.INFERENCE_JOB_STOPPED,
                   InferenceJobStatus.ERRORED: EventKind.INFERENCE_JOB_ERRORED}


def set_inference_job_status(cur, job_id, status: InferenceJobStatus, *, allowed_from: list,
                             error: Optional[str] = None, actor_id=None, event_data: Optional[dict] = None) -> bool:
    """Move a job in one of ``allowed_from`` to ``status`` (``singa.lifecycle`` says which). True if it
    moved, and then the change is recorded as an event (``actor_id``: who caused it, if anyone;
    ``event_data``: more to say, such as why it ended)."""
    cur.execute('UPDATE inference_jobs SET status = %s, error = coalesce(%s, error),'
                ' stopped_at = CASE WHEN %s THEN coalesce(stopped_at, now()) ELSE stopped_at END'
                ' WHERE id = %s AND status = ANY(%s) RETURNING train_job_id, model_id, error',
                (status.value, error, status in InferenceJobStatus.FINISHED, job_id, list(allowed_from)))
    row = cur.fetchone()
    if row is not None and status in _STATUS_EVENTS:
        source = {'model_id': str(row['model_id'])} if row['model_id'] else {'train_job_id': str(row['train_job_id'])}
        events.record_event(cur, _STATUS_EVENTS[status], job_id=job_id, subject_id=job_id, actor_id=actor_id,
                            data={**source, 'status': status.value, 'error': row['error'], **(event_data or {})})
    return row is not None


def insert_key(cur, job_id, name: str, key_hash: str) -> PredictionKeyRecord:
    cur.execute('INSERT INTO prediction_keys (id, inference_job_id, name, key_hash) VALUES (%s, %s, %s, %s)'
                ' RETURNING *', (uuid.uuid4(), job_id, name, key_hash))
    return from_row(PredictionKeyRecord, cur.fetchone())


def list_keys(cur, job_id) -> list[PredictionKeyRecord]:
    cur.execute('SELECT * FROM prediction_keys WHERE inference_job_id = %s ORDER BY created_at', (job_id,))
    return from_rows(PredictionKeyRecord, cur.fetchall())


def revoke_key(cur, job_id, key_id) -> Optional[PredictionKeyRecord]:
    cur.execute('UPDATE prediction_keys SET revoked_at = coalesce(revoked_at, now())'
                ' WHERE id = %s AND inference_job_id = %s RETURNING *', (key_id, job_id))
    return from_row(PredictionKeyRecord, cur.fetchone())
