"""Repository of trials and their logs. Functions take the cursor of a ``transaction()``."""
import json
import uuid
from typing import Iterable, Optional, Sequence

from psycopg2.extras import Json, execute_values

from singa.constants import EventKind, TrialStatus
from singa.meta_store import events
from singa.meta_store.records import TrialLogRecord, TrialRecord, from_row
from singa.objectives import PARAMS_BYTES, SCORE, Constraint, check_metric_name

_LIVE = list(TrialStatus.LIVE)


def insert_trial(cur, *, sub_job_id, no: int, model_id, knobs: dict, proposal: dict, worker_id: str,
                 attempt: int = 0, retry_of=None, status: str = TrialStatus.RUNNING.value) -> TrialRecord:
    cur.execute(
        'INSERT INTO trials (id, sub_train_job_id, no, model_id, status, knobs, proposal, worker_id, attempt,'
        ' retry_of, started_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now(), now())'
        ' RETURNING *',
        (uuid.uuid4(), sub_job_id, no, model_id, status, Json(knobs), Json(proposal), worker_id, attempt, retry_of))
    return from_row(TrialRecord, cur.fetchone())


def get_trial(cur, trial_id) -> Optional[TrialRecord]:
    cur.execute('SELECT * FROM trials WHERE id = %s', (trial_id,))
    return from_row(TrialRecord, cur.fetchone())


def list_trials_of_sub_job(cur, sub_job_id) -> list[TrialRecord]:
    cur.execute('SELECT * FROM trials WHERE sub_train_job_id = %s ORDER BY no', (sub_job_id,))
    return [from_row(TrialRecord, r) for r in cur.fetchall()]


def list_trials_of_train_job(cur, train_job_id, *, limit: int = 1000, offset: int = 0,
                             statuses: Optional[Iterable[str]] = None) -> list[TrialRecord]:
    """Trials of every sub-job of a job, newest first."""
    args = [train_job_id]
    status_clause = ''
    if statuses:
        status_clause = ' AND t.status = ANY(%s)'
        args.append(list(statuses))
    args += [limit, offset]
    cur.execute(
        'SELECT t.* FROM trials t JOIN sub_train_jobs s ON s.id = t.sub_train_job_id'
        f' WHERE s.train_job_id = %s{status_clause} ORDER BY t.started_at DESC NULLS LAST, t.no DESC'
        ' LIMIT %s OFFSET %s', args)
    return [from_row(TrialRecord, r) for r in cur.fetchall()]


# -- which trials are best (``singa.ranking``) ----------------------------------------------------

def _value(alias: str, name: str) -> str:
    """A trial's value ``name`` (``TrialRecord.values``) in SQL; NULL when it has none."""
    check_metric_name(name, 'constraints')             # it is spelt into the SQL: METRIC_NAME's characters only
    if name == PARAMS_BYTES:
        return f'{alias}.params_bytes::double precision'
    if name == SCORE:
        return f"coalesce(({alias}.metrics->>'score')::double precision, {alias}.score)"
    return f"({alias}.metrics->>'{name}')::double precision"


def _ranked(alias: str) -> str:
    """``singa.ranking``'s rule as ``ORDER BY`` terms, over rows ``alias`` that carry their group's best
    score as ``best_score`` and their job's ``tie_tolerance`` (a window function cannot be nested in
    another's ``OVER``, so they are columns)."""
    return (f'CASE WHEN {alias}.score >= {alias}.best_score - {alias}.tie_tolerance THEN {alias}.best_score'
            f' ELSE {alias}.score END DESC, {alias}.no, {alias}.stopped_at')


def _meeting(constraints: Sequence[Constraint]) -> tuple[str, list]:
    """SQL conditions on trials ``t`` meeting every constraint (a missing value meets none), and their
    arguments."""
    sql, args = '', []
    for c in constraints:
        sql += f' AND {_value("t", c.name)} IS NOT NULL'
        for bound, op in ((c.min, '>='), (c.max, '<=')):
            if bound is not None:
                sql += f' AND {_value("t", c.name)} {op} %s'
                args.append(bound)
    return sql, args


_DEPLOYABLE = "t.status = 'COMPLETED' AND t.score IS NOT NULL"
_RANKED_COLUMNS = 't.*, max(t.score) OVER () AS best_score, j.tie_tolerance'
_OF_JOB = ' JOIN sub_train_jobs s ON s.id = t.sub_train_job_id JOIN train_jobs j ON j.id = s.train_job_id'


def best_trials_of_train_job(cur, train_job_id, max_count: int, *, with_params: bool = True,
                             constraints: Sequence[Constraint] = ()) -> list[TrialRecord]:
    """The ``max_count`` best completed trials of a job that meet ``constraints``, best first, by
    ``singa.ranking``'s rule."""
    params_clause = ' AND t.params_id IS NOT NULL' if with_params else ''
    meeting, args = _meeting(constraints)
    cur.execute(
        f'SELECT * FROM (SELECT {_RANKED_COLUMNS} FROM trials t{_OF_JOB}'
        f' WHERE s.train_job_id = %s AND {_DEPLOYABLE}{params_clause}{meeting}'
        f') best ORDER BY {_ranked("best")} LIMIT %s', (train_job_id, *args, max_count))
    return [from_row(TrialRecord, r) for r in cur.fetchall()]


def best_trials_of_each_template(cur, train_job_id, per_template: int,
                                 constraints: Sequence[Constraint] = ()) -> list[TrialRecord]:
    """The ``per_template`` best completed trials with saved parameters that meet ``constraints`` of
    every sub-job (template) of a job, by ``singa.ranking``'s rule within each: each template's best
    first, then the second bests, ..., and by the same rule within a rank, so a cap on the total
    keeps the best of as many templates as it can.

    One top-N per sub-job: however many trials a job has, and however the templates' scores
    compare, every template with a trial to deploy is in.
    """
    meeting, args = _meeting(constraints)
    cur.execute(
        f'SELECT row_number() OVER (PARTITION BY best.sub_train_job_id ORDER BY {_ranked("best")}) AS rank,'
        ' best.* FROM sub_train_jobs s JOIN train_jobs j ON j.id = s.train_job_id CROSS JOIN LATERAL ('
        '  SELECT ranked.* FROM (SELECT t.*, max(t.score) OVER () AS best_score, j.tie_tolerance FROM trials t'
        f'  WHERE t.sub_train_job_id = s.id AND {_DEPLOYABLE} AND t.params_id IS NOT NULL{meeting}) ranked'
        f'  ORDER BY {_ranked("ranked")} LIMIT %s) best'
        f' WHERE s.train_job_id = %s ORDER BY rank, {_ranked("best")}', (*args, per_template, train_job_id))
    return [from_row(TrialRecord, row) for row in cur.fetchall()]


def finish_trial(cur, trial_id, *, status: str, score: Optional[float] = None, params_id: Optional[str] = None,
                 error: Optional[str] = None, params_bytes: Optional[int] = None,
                 metrics: Optional[dict] = None) -> bool:
    """Record the end of a live trial; False if it had already ended (the first end wins).

    A trial that completed or errored is recorded as an event, and so is a completed trial whose
    score beats every other completed trial of its train job (``best_score_improved``).
    """
    cur.execute(
        'UPDATE trials t SET status = %s, score = %s, params_id = %s, params_bytes = %s, metrics = %s, error = %s,'
        ' stopped_at = now(),'
        ' updated_at = now() FROM sub_train_jobs s WHERE t.id = %s AND t.status = ANY(%s) AND s.id = t.sub_train_job_id'
        ' RETURNING s.train_job_id, t.no, t.model_id, t.sub_train_job_id,'
        ' extract(epoch FROM t.stopped_at - t.started_at) AS seconds',
        (status, score, params_id, params_bytes, Json(metrics) if metrics else None, error, trial_id, _LIVE))
    row = cur.fetchone()
    if row is None:
        return False
    if status in _TRIAL_EVENTS:
        job_id = row['train_job_id']
        data = {'trial_no': row['no'], 'model_id': str(row['model_id']), 'sub_train_job_id': str(row['sub_train_job_id']),
                'score': score, 'duration_seconds': _float(row['seconds']), 'error': error and error[-1000:]}
        events.record_event(cur, _TRIAL_EVENTS[status], job_id=job_id, subject_id=trial_id, data=data)
        if status == TrialStatus.COMPLETED and score is not None:
            _record_if_best(cur, job_id, trial_id, score, data)
    return True


_TRIAL_EVENTS = {TrialStatus.COMPLETED: EventKind.TRIAL_COMPLETED, TrialStatus.ERRORED: EventKind.TRIAL_ERRORED}


def _record_if_best(cur, train_job_id, trial_id, score: float, data: dict) -> None:
    """Record ``best_score_improved`` when ``score`` beats the job's other completed trials. Trials of
    one job ending at once take turns here, so each sees the others' scores once committed."""
    cur.execute('SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))', (f'best_score:{train_job_id}',))
    cur.execute("SELECT max(t.score) AS best FROM trials t JOIN sub_train_jobs s ON s.id = t.sub_train_job_id"
                " WHERE s.train_job_id = %s AND t.status = 'COMPLETED' AND t.id <> %s", (train_job_id, trial_id))
    previous = cur.fetchone()['best']
    if previous is None or score > previous:
        events.record_event(cur, EventKind.BEST_SCORE_IMPROVED, job_id=train_job_id, subject_id=trial_id,
                            data={'trial_no': data['trial_no'], 'model_id': data['model_id'], 'score': score,
                                  'previous_best': previous})


def _float(value) -> Optional[float]:
    return None if value is None else float(value)


def count_trials(cur, sub_job_id, status: TrialStatus) -> int:
    cur.execute('SELECT count(*) AS n FROM trials WHERE sub_train_job_id = %s AND status = %s',
                (sub_job_id, status.value))
    return cur.fetchone()['n']


def append_intermediate(cur, trial_id, step: int, score: float) -> None:
    cur.execute("UPDATE trials SET intermediate = intermediate || %s::jsonb, updated_at = now() WHERE id = %s",
                (json.dumps([[step, score]]), trial_id))


def stop_live_trials(cur, *, sub_job_id=None, train_job_id=None, status: str = TrialStatus.STOPPED.value,
                     error: Optional[str] = None) -> int:
    """End every trial still PENDING or RUNNING in a sub-job or a whole job; return how many."""
    if sub_job_id is not None:
        cur.execute('UPDATE trials SET status = %s, error = coalesce(%s, error), stopped_at = now(),'
                    ' updated_at = now() WHERE sub_train_job_id = %s AND status = ANY(%s)',
                    (status, error, sub_job_id, _LIVE))
    else:
        cur.execute('UPDATE trials t SET status = %s, error = coalesce(%s, t.error), stopped_at = now(),'
                    ' updated_at = now() FROM sub_train_jobs s WHERE s.id = t.sub_train_job_id'
                    ' AND s.train_job_id = %s AND t.status = ANY(%s)',
                    (status, error, train_job_id, _LIVE))
    return cur.rowcount


def insert_logs(cur, trial_id, lines: list[dict]) -> None:
    """Append a batch of log lines (one statement for the whole batch)."""
    if not lines:
        return
    rows = [(trial_id, line.get('time'), str(line.get('level') or 'INFO')[:16], Json(line)) for line in lines]
    execute_values(cur, 'INSERT INTO trial_logs (trial_id, time, level, line) VALUES %s', rows,
                   template='(%s, coalesce(%s::timestamptz, now()), %s, %s)')


def get_logs(cur, trial_id, *, after_id: int = 0, limit: int = 10000) -> list[TrialLogRecord]:
    cur.execute('SELECT * FROM trial_logs WHERE trial_id = %s AND id > %s ORDER BY id LIMIT %s',
                (trial_id, after_id, limit))
    return [from_row(TrialLogRecord, r) for r in cur.fetchall()]


def train_job_of_trial(cur, trial_id):
    """(train job id, owner id) of a trial, for ownership checks."""
    cur.execute('SELECT j.id AS train_job_id, j.owner_id FROM trials t'
                ' JOIN sub_train_jobs s ON s.id = t.sub_train_job_id JOIN train_jobs j ON j.id = s.train_job_id'
                ' WHERE t.id = %s', (trial_id,))
    return cur.fetchone()


def completed_trials_of_train_job(cur, train_job_id) -> list[TrialRecord]:
    """The completed trials with a score of a job (every template), best first by ``singa.ranking``'s
    rule (what breaks ties between trials equal on the objectives)."""
    cur.execute(
        f'SELECT * FROM (SELECT {_RANKED_COLUMNS} FROM trials t{_OF_JOB}'
        f' WHERE s.train_job_id = %s AND {_DEPLOYABLE}) best ORDER BY {_ranked("best")}', (train_job_id,))
    return [from_row(TrialRecord, r) for r in cur.fetchall()]


def completed_trials_of_template(cur, train_job_id, model_id) -> list[TrialRecord]:
    """The completed trials of a job's sub-job that tunes template ``model_id`` (what warm-starts
    another job of that template), oldest first."""
    cur.execute("SELECT t.* FROM trials t JOIN sub_train_jobs s ON s.id = t.sub_train_job_id"
                " WHERE s.train_job_id = %s AND s.model_id = %s AND t.status = 'COMPLETED' AND t.score IS NOT NULL"
                ' ORDER BY t.no', (train_job_id, model_id))
    return [from_row(TrialRecord, r) for r in cur.fetchall()]
