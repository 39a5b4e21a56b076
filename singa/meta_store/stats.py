"""Counts over the whole platform for the admin's metrics (read at every scrape; cheap aggregates)."""
from singa.constants import InferenceJobStatus, ServiceStatus, TrainJobStatus


def count_by_status(cur, table: str) -> dict:
    """``{status: n}`` of ``train_jobs``, ``inference_jobs``, ``trials`` or ``webhook_deliveries``."""
    if table not in ('train_jobs', 'inference_jobs', 'trials', 'webhook_deliveries'):
        raise ValueError(f'no status counts for {table}')
    cur.execute(f'SELECT status, count(*) AS n FROM {table} GROUP BY status')
    return {row['status']: row['n'] for row in cur.fetchall()}


def trial_duration_buckets(cur, bounds: list[float]) -> dict:
    """For the trials that ended, by status: ``{status: (cumulative counts per bound, count, sum of seconds)}``."""
    filters = ', '.join(f'count(*) FILTER (WHERE d <= {float(b)!r}) AS b{i}' for i, b in enumerate(bounds))
    cur.execute(f'SELECT status, {filters}, count(*) AS n, coalesce(sum(d), 0) AS total FROM ('
                ' SELECT status, extract(epoch FROM stopped_at - started_at)::float8 AS d FROM trials'
                ' WHERE stopped_at IS NOT NULL AND started_at IS NOT NULL) ended GROUP BY status')
    return {row['status']: ([row[f'b{i}'] for i in range(len(bounds))], row['n'], float(row['total']))
            for row in cur.fetchall()}


def live_sub_train_jobs(cur) -> list[dict]:
    """``{train_job_id, sub_job_id, model_name}`` of every sub-job still running."""
    cur.execute('SELECT s.train_job_id, s.id AS sub_job_id, m.name AS model_name FROM sub_train_jobs s'
                ' JOIN models m ON m.id = s.model_id WHERE s.status <> ALL(%s)', (list(TrainJobStatus.FINISHED),))
    return cur.fetchall()


def inference_services(cur, service_type: str) -> list[dict]:
    """The live services of one type of every live inference job: ``{inference_job_id, trial_id,
    model_name, replicas, hostname, port}`` (inference workers: one per deployed trial; a predictor).
    A checkpoint job's worker serves its template: ``trial_id`` is then the template's id."""
    cur.execute("SELECT s.job_id AS inference_job_id, coalesce(s.trial_id::text, s.info->>'model_id') AS trial_id,"
                " coalesce(s.info->>'model_name', '') AS model_name,"
                ' s.replicas, s.hostname, s.port FROM services s JOIN inference_jobs i ON i.id = s.job_id'
                ' WHERE i.status = ANY(%s) AND s.service_type = %s AND s.status = ANY(%s) ORDER BY s.created_at',
                (list(InferenceJobStatus.LIVE), service_type, list(ServiceStatus.LIVE)))
    return cur.fetchall()
