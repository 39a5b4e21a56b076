"""The ``login_failures`` table: failed logins in a row per account and per client address.

The policy (how many failures are free, how long a lock lasts) is the caller's
(``singa.admin.services.login_throttle``); this module only counts, locks and forgets. Each
function takes the cursor of an open ``store.transaction()``; ``count_failure`` locks the row
until that transaction ends, so concurrent failures from several admin processes are all counted.
"""
from singa.meta_store.records import LoginFailureRecord, from_row


def seconds_locked(cur, keys: list[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """The ``(scope, subject)`` pairs among ``keys`` locked now, with the seconds their lock has left
    (by the database's clock, the one that set the locks)."""
    if not keys:
        return {}
    cur.execute('SELECT scope, subject, EXTRACT(EPOCH FROM locked_until - now()) AS seconds FROM login_failures'
                ' WHERE locked_until > now() AND (scope, subject) IN (' + ', '.join(['(%s, %s)'] * len(keys)) + ')',
                [part for key in keys for part in key])
    return {(row['scope'], row['subject']): float(row['seconds']) for row in cur.fetchall()}


def count_failure(cur, scope: str, subject: str, forget_after_seconds: float) -> LoginFailureRecord:
    """Add one failure; a count whose last failure is older than ``forget_after_seconds`` starts again."""
    cur.execute('INSERT INTO login_failures (scope, subject, failures, last_failed_at) VALUES (%s, %s, 1, now())'
                ' ON CONFLICT (scope, subject) DO UPDATE SET last_failed_at = now(), failures = CASE'
                '  WHEN login_failures.last_failed_at < now() - make_interval(secs => %s) THEN 1'
                '  ELSE login_failures.failures + 1 END'
                ' RETURNING *', (scope, subject, float(forget_after_seconds)))
    return from_row(LoginFailureRecord, cur.fetchone())


def lock(cur, scope: str, subject: str, seconds: float) -> None:
    """Refuse attempts for ``seconds`` from now."""
    cur.execute('UPDATE login_failures SET locked_until = now() + make_interval(secs => %s)'
                ' WHERE scope = %s AND subject = %s', (float(seconds), scope, subject))


def clear(cur, scope: str, subject: str) -> None:
    cur.execute('DELETE FROM login_failures WHERE scope = %s AND subject = %s', (scope, subject))


def purge(cur, forget_after_seconds: float) -> int:
    """Forget counts whose last failure is older than ``forget_after_seconds`` and that lock nothing."""
    cur.execute('DELETE FROM login_failures WHERE last_failed_at < now() - make_interval(secs => %s)'
                ' AND (locked_until IS NULL OR locked_until < now())', (float(forget_after_seconds),))
    return cur.rowcount
