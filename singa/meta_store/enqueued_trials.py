"""Repository of enqueued trials: knob sets a user asked a live sub-job to run before the
advisor's own proposals. Functions take the cursor of a ``transaction()``."""
import uuid
from typing import Optional

from psycopg2.extras import Json

from singa.meta_store.records import EnqueuedTrialRecord, from_row, from_rows


def insert_enqueued_trial(cur, sub_job_id, knobs: dict, created_by) -> EnqueuedTrialRecord:
    cur.execute('INSERT INTO enqueued_trials (id, sub_train_job_id, knobs, created_by) VALUES (%s, %s, %s, %s)'
                ' RETURNING *', (uuid.uuid4(), sub_job_id, Json(knobs), created_by))
    return from_row(EnqueuedTrialRecord, cur.fetchone())


def list_waiting(cur, sub_job_id) -> list[EnqueuedTrialRecord]:
    """The enqueued trials of a sub-job not yet run, oldest first."""
    cur.execute('SELECT * FROM enqueued_trials WHERE sub_train_job_id = %s AND trial_id IS NULL AND error IS NULL'
                ' ORDER BY created_at, id', (sub_job_id,))
    return from_rows(EnqueuedTrialRecord, cur.fetchall())


def take_next(cur, sub_job_id) -> Optional[EnqueuedTrialRecord]:
    """The oldest waiting enqueued trial of a sub-job, locked until the transaction ends."""
    cur.execute('SELECT * FROM enqueued_trials WHERE sub_train_job_id = %s AND trial_id IS NULL AND error IS NULL'
                ' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED', (sub_job_id,))
    return from_row(EnqueuedTrialRecord, cur.fetchone())


def mark_run(cur, enqueued_id, trial_id) -> None:
    cur.execute('UPDATE enqueued_trials SET trial_id = %s WHERE id = %s', (trial_id, enqueued_id))


def mark_dropped(cur, enqueued_id, error: str) -> None:
    cur.execute('UPDATE enqueued_trials SET error = %s WHERE id = %s', (error, enqueued_id))
