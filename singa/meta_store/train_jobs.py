"""Repository of train jobs and sub-train jobs. Functions take the cursor of a ``transaction()``.

Status changes take the statuses they may move from (``allowed_from``): which those are is
``singa.lifecycle``'s, the only caller of the status setters.
"""
import uuid
from typing import Optional

from psycopg2.extras import Json

from singa.constants import EventKind, TrainJobStatus
from singa.meta_store import events
from singa.meta_store.records import SubTrainJobRecord, TrainJobRecord, from_row, where
from singa.ranking import DEFAULT_TIE_TOLERANCE


def insert_train_job(cur, *, owner_id, app: str, task: str, budget: dict, train_dataset_id,
                     val_dataset_id, train_args: dict, advisor_config: dict, time_budget_seconds: Optional[float],
                     tie_tolerance: float = DEFAULT_TIE_TOLERANCE) -> TrainJobRecord:
    """Create a job with the next version of ``app`` for its owner. ``tie_tolerance``: how far below
    the best validation score a trial ties with it (``singa.ranking``).

    The version is allocated under a transaction-scoped advisory lock on (owner, app), so two
    concurrent creations of the same app never collide. The deadline is fixed here, once.
    """
    cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'train_job:{owner_id}:{app}',))
    cur.execute('SELECT coalesce(max(app_version), 0) + 1 AS v FROM train_jobs WHERE owner_id = %s AND app = %s',
                (owner_id, app))
    version = cur.fetchone()['v']
    deadline = None if time_budget_seconds is None else f'{float(time_budget_seconds)} seconds'
    cur.execute(
        'INSERT INTO train_jobs (id, owner_id, app, app_version, task, budget, train_dataset_id, val_dataset_id,'
        ' train_args, advisor_config, status, started_at, deadline_at, tie_tolerance)'
        ' VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(),'
        ' CASE WHEN %s::interval IS NULL THEN NULL ELSE now() + %s::interval END, %s) RETURNING *',
        (uuid.uuid4(), owner_id, app, version, task, Json(budget), train_dataset_id, val_dataset_id,
         Json(train_args), Json(advisor_config), TrainJobStatus.STARTED.value, deadline, deadline, tie_tolerance))
    return from_row(TrainJobRecord, cur.fetchone())


def get_train_job(cur, train_job_id, *, for_update: bool = False) -> Optional[TrainJobRecord]:
    cur.execute('SELECT * FROM train_jobs WHERE id = %s' + (' FOR UPDATE' if for_update else ''), (train_job_id,))
    return from_row(TrainJobRecord, cur.fetchone())


def get_train_job_by_app(cur, owner_id, app: str, app_version: int = -1) -> Optional[TrainJobRecord]:
    """One job of an owner's app; ``app_version`` -1 means the latest."""
    if app_version == -1:
        cur.execute('SELECT * FROM train_jobs WHERE owner_id = %s AND app = %s ORDER BY app_version DESC LIMIT 1',
                    (owner_id, app))
    else:
        cur.execute('SELECT * FROM train_jobs WHERE owner_id = %s AND app = %s AND app_version = %s',
                    (owner_id, app, app_version))
    return from_row(TrainJobRecord, cur.fetchone())


def list_train_jobs(cur, *, owner_id=None, app: Optional[str] = None,
                    statuses: Optional[tuple] = None) -> list[TrainJobRecord]:
    clause, args = where(('owner_id = %s', owner_id), ('app = %s', app),
                         ('status = ANY(%s)', list(statuses) if statuses else None))
    cur.execute(f'SELECT * FROM train_jobs{clause} ORDER BY created_at DESC, app_version DESC', args)
    return [from_row(TrainJobRecord, r) for r in cur.fetchall()]


# The event each status a job moves to is recorded as (STOPPING has its own, with who asked).
_STATUS_EVENTS = {TrainJobStatus.RUNNING: EventKind.TRAIN_JOB_STARTED, TrainJobStatus.STOPPED: EventKind.TRAIN_JOB_STOPPED,
                  TrainJobStatus.ERRORED: EventKind.TRAIN_JOB_ERRORED}


def set_train_job_status(cur, train_job_id, status: TrainJobStatus, *, allowed_from: list,
                         error: Optional[str] = None, actor_id=None) -> bool:
    """Move a job in one of ``allowed_from`` to ``status``. True if it moved, and then the change
    is recorded as an event (``actor_id``: who caused it, if anyone)."""
    cur.execute(
        'UPDATE train_jobs SET status = %s, error = coalesce(%s, error),'
        ' stopped_at = CASE WHEN %s THEN coalesce(stopped_at, now()) ELSE stopped_at END'
        ' WHERE id = %s AND status = ANY(%s) RETURNING app, app_version, error',
        (status.value, error, status in TrainJobStatus.FINISHED, train_job_id, list(allowed_from)))
    row = cur.fetchone()
    if row is not None and status in _STATUS_EVENTS:
        events.record_event(cur, _STATUS_EVENTS[status], job_id=train_job_id, subject_id=train_job_id,
                            actor_id=actor_id, data={'app': row['app'], 'app_version': row['app_version'],
                                                     'status': status.value, 'error': row['error']})
    return row is not None


def request_stop(cur, train_job_id, *, allowed_from: list) -> bool:
    """Mark a job in one of ``allowed_from`` STOPPING, noting when; True if it moved."""
    cur.execute("UPDATE train_jobs SET status = %s, stop_requested_at = coalesce(stop_requested_at, now())"
                " WHERE id = %s AND status = ANY(%s)",
                (TrainJobStatus.STOPPING.value, train_job_id, list(allowed_from)))
    return cur.rowcount == 1


def restart_train_job(cur, train_job_id, budget: dict, time_budget_seconds: float, *, allowed_from: list) -> bool:
    """Start a job in one of ``allowed_from`` again (resume): STARTED, with ``budget`` and a deadline
    ``time_budget_seconds`` from now, its end forgotten. True if it moved."""
    cur.execute(
        'UPDATE train_jobs SET status = %s, budget = %s, error = NULL, stopped_at = NULL, stop_requested_at = NULL,'
        " resumed_at = now(), deadline_at = now() + %s * interval '1 second' WHERE id = %s AND status = ANY(%s)",
        (TrainJobStatus.STARTED.value, Json(budget), float(time_budget_seconds), train_job_id, list(allowed_from)))
    return cur.rowcount == 1


def change_budget(cur, train_job_id, budget: dict, time_budget_seconds: Optional[float]) -> Optional[TrainJobRecord]:
    """Set a live job's budget; a new time budget moves its deadline to that long after its current
    run began (its creation, or its last resume), or to now if that is past (the advisors end the job
    then, not the reconciler's check for overdue jobs). The job after the change."""
    cur.execute(
        'UPDATE train_jobs SET budget = %s, deadline_at = CASE WHEN %s::float IS NULL THEN deadline_at'
        " ELSE greatest(now(), coalesce(resumed_at, started_at, created_at) + %s::float * interval '1 second') END"
        ' WHERE id = %s RETURNING *', (Json(budget), time_budget_seconds, time_budget_seconds, train_job_id))
    return from_row(TrainJobRecord, cur.fetchone())


def insert_sub_train_job(cur, train_job_id, model_id) -> SubTrainJobRecord:
    cur.execute('INSERT INTO sub_train_jobs (id, train_job_id, model_id, status) VALUES (%s, %s, %s, %s) RETURNING *',
                (uuid.uuid4(), train_job_id, model_id, TrainJobStatus.STARTED.value))
    return from_row(SubTrainJobRecord, cur.fetchone())


def get_sub_train_job(cur, sub_job_id, *, for_update: bool = False) -> Optional[SubTrainJobRecord]:
    cur.execute('SELECT * FROM sub_train_jobs WHERE id = %s' + (' FOR UPDATE' if for_update else ''), (sub_job_id,))
    return from_row(SubTrainJobRecord, cur.fetchone())


def list_sub_train_jobs(cur, train_job_id) -> list[SubTrainJobRecord]:
    cur.execute('SELECT * FROM sub_train_jobs WHERE train_job_id = %s ORDER BY created_at, id', (train_job_id,))
    return [from_row(SubTrainJobRecord, r) for r in cur.fetchall()]


def set_sub_train_job_advisor(cur, sub_job_id, service_id) -> None:
    cur.execute('UPDATE sub_train_jobs SET advisor_service_id = %s WHERE id = %s', (service_id, sub_job_id))


def set_sub_train_job_status(cur, sub_job_id, status: TrainJobStatus, *, allowed_from: list,
                             error: Optional[str] = None) -> bool:
    """Move a sub-job in one of ``allowed_from`` to ``status``; True if it moved."""
    cur.execute(
        'UPDATE sub_train_jobs SET status = %s, error = coalesce(%s, error),'
        ' started_at = CASE WHEN %s THEN coalesce(started_at, now()) ELSE started_at END,'
        ' stopped_at = CASE WHEN %s THEN coalesce(stopped_at, now()) ELSE stopped_at END'
        ' WHERE id = %s AND status = ANY(%s)',
        (status.value, error, status == TrainJobStatus.RUNNING, status in TrainJobStatus.FINISHED, sub_job_id,
         list(allowed_from)))
    return cur.rowcount == 1


def restart_sub_train_job(cur, sub_job_id, *, allowed_from: list) -> bool:
    """Start a sub-job in one of ``allowed_from`` again (resume); its new run starts after its last
    trial. True if it moved."""
    cur.execute(
        'UPDATE sub_train_jobs s SET status = %s, error = NULL, stopped_at = NULL,'
        ' run_start_no = (SELECT coalesce(max(t.no), 0) + 1 FROM trials t WHERE t.sub_train_job_id = s.id)'
        ' WHERE id = %s AND status = ANY(%s)', (TrainJobStatus.STARTED.value, sub_job_id, list(allowed_from)))
    return cur.rowcount == 1


def sub_train_job_of_model(cur, train_job_id, model_name: str) -> Optional[SubTrainJobRecord]:
    """The sub-job of a job that tunes the template named ``model_name``."""
    cur.execute('SELECT s.* FROM sub_train_jobs s JOIN models m ON m.id = s.model_id'
                ' WHERE s.train_job_id = %s AND m.name = %s', (train_job_id, model_name))
    return from_row(SubTrainJobRecord, cur.fetchone())


def sub_job_spec(cur, sub_job_id) -> Optional[dict]:
    """What the advisor of a sub-job needs: the job, the template's files and knob space, the datasets."""
    cur.execute(
        'SELECT s.id AS sub_job_id, s.status AS sub_job_status, s.run_start_no, j.id AS train_job_id,'
        ' j.status AS job_status,'
        ' j.task, j.budget, j.train_args, j.advisor_config, j.tie_tolerance, extract(epoch FROM j.deadline_at) AS deadline,'
        ' m.id AS model_id, m.name AS model_name, m.model_class, m.file_kind, m.file_name, m.file_sha256, m.env_key,'
        ' m.store_path AS model_path, m.knob_config, td.store_path AS train_dataset_path,'
        ' vd.store_path AS val_dataset_path'
        ' FROM sub_train_jobs s JOIN train_jobs j ON j.id = s.train_job_id JOIN models m ON m.id = s.model_id'
        ' LEFT JOIN datasets td ON td.id = j.train_dataset_id LEFT JOIN datasets vd ON vd.id = j.val_dataset_id'
        ' WHERE s.id = %s', (sub_job_id,))
    return cur.fetchone()
