"""Repository of events: what happened to jobs and services, for people and the web admin."""
from typing import Optional

from psycopg2.extras import Json


def record_event(cur, kind: str, *, job_id=None, subject_id=None, data: Optional[dict] = None) -> None:
    cur.execute('INSERT INTO events (kind, job_id, subject_id, data) VALUES (%s, %s, %s, %s)',
                (kind, job_id, subject_id, Json(data or {})))


def list_events(cur, *, job_id=None, after_id: int = 0, limit: int = 500) -> list[dict]:
    if job_id is None:
        cur.execute('SELECT * FROM events WHERE id > %s ORDER BY id LIMIT %s', (after_id, limit))
    else:
        cur.execute('SELECT * FROM events WHERE job_id = %s AND id > %s ORDER BY id LIMIT %s',
                    (job_id, after_id, limit))
    return cur.fetchall()
