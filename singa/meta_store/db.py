"""PostgreSQL access: a bounded, blocking connection pool, transactions, and migrations.

Repositories (the other modules of this package) are plain functions that take the cursor a
``transaction()`` block yields; a block commits when it ends normally and rolls back when it
raises. psycopg2 errors never leave this module untranslated: a unique or foreign-key violation
becomes ``ConflictError``, a lost or refused connection ``ServiceUnavailableError``, the rest
``StoreError``.
"""
import contextlib
import logging
import os
import re
import threading
from typing import Iterator, Optional

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool

from singa.errors import ConflictError, ServiceUnavailableError, SingaError, StoreError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), 'migrations')
_MIGRATION_NAME = re.compile(r'^(\d{4})_([a-z0-9_]+)\.sql$')
# Any fixed 64-bit number; held while migrations run so that concurrent starts take turns.
_MIGRATION_LOCK = 7_262_311_048_310_551

psycopg2.extras.register_uuid()
psycopg2.extensions.register_adapter(dict, psycopg2.extras.Json)


class MetaStore:
    """A pool of connections to one database. Build one per process; share it between threads."""

    def __init__(self, dsn: str, max_connections: int = 10, connect_timeout: int = 10):
        self._dsn = f'{dsn} connect_timeout={connect_timeout}'
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max = max_connections
        self._pool: Optional[psycopg2.pool.ThreadedConnectionPool] = None
        self._pool_lock = threading.Lock()
        self._pid = os.getpid()

    def _get_pool(self) -> psycopg2.pool.ThreadedConnectionPool:
        # A pool built before a fork is not reused by the child: the sockets are the parent's.
        if self._pool is None or self._pid != os.getpid():
            with self._pool_lock:
                if self._pool is None or self._pid != os.getpid():
                    with translate_errors():
                        self._pool = psycopg2.pool.ThreadedConnectionPool(0, self._max, self._dsn)
                    # Open connections lazily but keep them: psycopg2 closes every returned
                    # connection beyond ``minconn``, which would make each transaction reconnect.
                    self._pool.minconn = self._max
                    self._pid = os.getpid()
        return self._pool

    @contextlib.contextmanager
    def transaction(self, timeout: float = 30.0) -> Iterator[psycopg2.extras.RealDictCursor]:
        """Yield a cursor whose rows are dicts; commit at the end of the block, roll back on error."""
        if not self._slots.acquire(timeout=timeout):
            raise ServiceUnavailableError('no database connection free in time', resource='database')
        pool = None
        conn = None
        broken = False
        try:
            pool = self._get_pool()
            with translate_errors():
                conn = pool.getconn()
                if conn.closed:
                    pool.putconn(conn, close=True)
                    conn = pool.getconn()
            try:
                with translate_errors():
                    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                        yield cur
                    conn.commit()
            except BaseException as e:
                broken = conn.closed or isinstance(e, ServiceUnavailableError)
                if not conn.closed:
                    try:
                        conn.rollback()
                    except psycopg2.Error:
                        broken = True
                raise
        finally:
            if conn is not None and pool is not None:
                pool.putconn(conn, close=broken or conn.closed)
            self._slots.release()

    def migrate(self) -> list[str]:
        """Apply the numbered SQL files not yet applied, in order; return the names applied now."""
        applied_now = []
        with self.transaction() as cur:
            cur.execute('SELECT pg_advisory_xact_lock(%s)', (_MIGRATION_LOCK,))
            cur.execute('CREATE TABLE IF NOT EXISTS schema_migrations ('
                        ' version integer PRIMARY KEY, name text NOT NULL,'
                        ' applied_at timestamptz NOT NULL DEFAULT now())')
            cur.execute('SELECT version FROM schema_migrations')
            done = {row['version'] for row in cur.fetchall()}
            for version, name, path in list_migrations():
                if version in done:
                    continue
                with open(path, encoding='utf-8') as f:
                    cur.execute(f.read())
                cur.execute('INSERT INTO schema_migrations (version, name) VALUES (%s, %s)',
                            (version, name))
                applied_now.append(f'{version:04d}_{name}')
        if applied_now:
            log.info('applied migrations: %s', ', '.join(applied_now))
        return applied_now

    def ping(self) -> None:
        with self.transaction(timeout=5) as cur:
            cur.execute('SELECT 1')

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.closeall()
            self._pool = None


def list_migrations() -> list[tuple[int, str, str]]:
    found = []
    for file_name in sorted(os.listdir(MIGRATIONS_DIR)):
        match = _MIGRATION_NAME.match(file_name)
        if match:
            found.append((int(match.group(1)), match.group(2), os.path.join(MIGRATIONS_DIR, file_name)))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f'migrations must be numbered 0001, 0002, ... without gaps; found {versions}')
    return found


@contextlib.contextmanager
def translate_errors():
    """Turn psycopg2 errors raised inside the block into SingaErrors (``raise ... from e``)."""
    try:
        yield
    except SingaError:
        raise
    except psycopg2.errors.UniqueViolation as e:
        raise ConflictError(_constraint_message(e, 'already exists'),
                            details={'constraint': e.diag.constraint_name}) from e
    except psycopg2.errors.ForeignKeyViolation as e:
        raise ConflictError(_constraint_message(e, 'is referenced or refers to a missing object'),
                            details={'constraint': e.diag.constraint_name}) from e
    except (psycopg2.OperationalError, psycopg2.InterfaceError, psycopg2.pool.PoolError) as e:
        raise ServiceUnavailableError(f'database unavailable: {str(e).strip()}', resource='database') from e
    except psycopg2.Error as e:
        raise StoreError(f'database error: {str(e).strip()}', resource='database') from e


def _constraint_message(e: psycopg2.Error, what: str) -> str:
    detail = (e.diag.message_detail or '').strip()
    return f'{detail or "a record"} {what}' if not detail else detail
