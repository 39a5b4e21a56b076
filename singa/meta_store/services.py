"""Repository of services: the workers and predictors the admin deployed."""
import uuid
from typing import Optional

from psycopg2.extras import Json

from singa.constants import ServiceStatus
from singa.meta_store.records import ServiceRecord, from_row, where


def insert_service(cur, *, service_type: str, job_id, container_manager: str, sub_job_id=None, trial_id=None,
                   replicas: int = 1, gpus: int = 0, info: Optional[dict] = None) -> ServiceRecord:
    cur.execute(
        'INSERT INTO services (id, service_type, status, job_id, sub_job_id, trial_id, container_manager,'
        ' replicas, gpus, info) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING *',
        (uuid.uuid4(), service_type, ServiceStatus.STARTED.value, job_id, sub_job_id, trial_id, container_manager,
         replicas, gpus, Json(info or {})))
    return from_row(ServiceRecord, cur.fetchone())


def get_service(cur, service_id) -> Optional[ServiceRecord]:
    cur.execute('SELECT * FROM services WHERE id = %s', (service_id,))
    return from_row(ServiceRecord, cur.fetchone())


def set_deployed(cur, service_id, *, container_service_id: str, container_service_name: str,
                 hostname: Optional[str], port: Optional[int], ext_hostname: Optional[str],
                 ext_port: Optional[int], info: dict) -> None:
    cur.execute(
        'UPDATE services SET status = %s, container_service_id = %s, container_service_name = %s, hostname = %s,'
        ' port = %s, ext_hostname = %s, ext_port = %s, info = info || %s WHERE id = %s AND status = ANY(%s)',
        (ServiceStatus.DEPLOYING.value, container_service_id, container_service_name, hostname, port,
         ext_hostname, ext_port, Json(info), service_id, list(ServiceStatus.LIVE)))


def set_service_status(cur, service_id, status: str, error: Optional[str] = None) -> bool:
    """Move a live service to ``status``; finished services stay finished. True if it changed."""
    cur.execute(
        'UPDATE services SET status = %s, error = coalesce(%s, error),'
        ' started_at = CASE WHEN %s = %s THEN coalesce(started_at, now()) ELSE started_at END,'
        ' stopped_at = CASE WHEN %s = ANY(%s) THEN now() ELSE stopped_at END'
        ' WHERE id = %s AND status = ANY(%s) AND status <> %s',
        (status, error, status, ServiceStatus.RUNNING.value, status, list(ServiceStatus.FINISHED), service_id,
         list(ServiceStatus.LIVE), status))
    return cur.rowcount == 1


def promised_ports(cur, except_service_id=None) -> frozenset:
    """Host ports recorded for live services (other than ``except_service_id``)."""
    cur.execute('SELECT ext_port FROM services WHERE ext_port IS NOT NULL AND status = ANY(%s)'
                ' AND id IS DISTINCT FROM %s', (list(ServiceStatus.LIVE), except_service_id))
    return frozenset(row['ext_port'] for row in cur.fetchall())


def count_restart(cur, service_id) -> int:
    cur.execute('UPDATE services SET restarts = restarts + 1 WHERE id = %s RETURNING restarts', (service_id,))
    row = cur.fetchone()
    return row['restarts'] if row else 0


def list_services(cur, *, job_id=None, live_only: bool = False, service_type: Optional[str] = None,
                  sub_job_id=None) -> list[ServiceRecord]:
    clause, args = where(('job_id = %s', job_id), ('service_type = %s', service_type),
                         ('sub_job_id = %s', sub_job_id),
                         ('status = ANY(%s)', list(ServiceStatus.LIVE) if live_only else None))
    cur.execute(f'SELECT * FROM services{clause} ORDER BY created_at, id', args)
    return [from_row(ServiceRecord, r) for r in cur.fetchall()]
