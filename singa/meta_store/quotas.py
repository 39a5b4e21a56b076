"""Repository of per-user quotas (``user_quotas``) and of what a user uses now."""
import uuid
from typing import Optional

from singa.constants import InferenceJobStatus, ServiceStatus, ServiceType, TrainJobStatus
from singa.meta_store.records import QuotaRecord, from_row

LIMITS = ('running_jobs', 'workers', 'gpus', 'stored_bytes')


def get_quota(cur, user_id: uuid.UUID) -> Optional[QuotaRecord]:
    cur.execute('SELECT * FROM user_quotas WHERE user_id = %s', (user_id,))
    return from_row(QuotaRecord, cur.fetchone())


def set_quota(cur, user_id: uuid.UUID, limits: dict, updated_by: uuid.UUID) -> QuotaRecord:
    """Replace a user's limits (a limit left out or None goes back to the platform's default)."""
    values = [limits.get(name) for name in LIMITS]
    cur.execute(f'INSERT INTO user_quotas (user_id, {", ".join(LIMITS)}, updated_by) VALUES (%s, %s, %s, %s, %s, %s)'
                f' ON CONFLICT (user_id) DO UPDATE SET {", ".join(f"{n} = EXCLUDED.{n}" for n in LIMITS)},'
                ' updated_at = now(), updated_by = EXCLUDED.updated_by RETURNING *', (user_id, *values, updated_by))
    return from_row(QuotaRecord, cur.fetchone())


def lock_usage(cur, user_id: uuid.UUID) -> None:
    """Serialise the requests of one user that check and then use their quota (until the transaction ends)."""
    cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'quota:{user_id}',))


def usage(cur, user_id: uuid.UUID) -> dict:
    """What a user uses now: live jobs, live train and inference workers (replicas counted), the GPUs
    those hold, and the bytes of their datasets and (not deleted) templates with their checkpoints."""
    cur.execute('SELECT (SELECT count(*) FROM train_jobs WHERE owner_id = %(u)s AND status = ANY(%(tj)s))'
                ' + (SELECT count(*) FROM inference_jobs WHERE owner_id = %(u)s AND status = ANY(%(ij)s)) AS jobs,'
                ' (SELECT coalesce(sum(size_bytes), 0) FROM datasets WHERE owner_id = %(u)s)'
                ' + (SELECT coalesce(sum(octet_length(file_bytes) + checkpoint_bytes), 0) FROM models'
                '    WHERE owner_id = %(u)s AND deleted_at IS NULL) AS stored',
                {'u': user_id, 'tj': list(TrainJobStatus.LIVE), 'ij': list(InferenceJobStatus.LIVE)})
    row = cur.fetchone()
    cur.execute('SELECT coalesce(sum(s.replicas), 0) AS workers, coalesce(sum(s.gpus * s.replicas), 0) AS gpus'
                ' FROM services s WHERE s.status = ANY(%(live)s) AND s.service_type = ANY(%(types)s)'
                ' AND s.job_id IN (SELECT id FROM train_jobs WHERE owner_id = %(u)s'
                '                  UNION ALL SELECT id FROM inference_jobs WHERE owner_id = %(u)s)',
                {'u': user_id, 'live': list(ServiceStatus.LIVE),
                 'types': [ServiceType.TRAIN.value, ServiceType.INFERENCE.value]})
    services = cur.fetchone()
    return {'running_jobs': int(row['jobs']), 'workers': int(services['workers']), 'gpus': int(services['gpus']),
            'stored_bytes': int(row['stored'])}
