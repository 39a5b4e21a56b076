"""The session database's rows in tests: emptied before each test, or dumped once and loaded again
(``COPY``'s text format keeps every type as it was)."""
import io

from singa.meta_store.db import MetaStore


def _tables(cur) -> list[str]:
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")
    return [r['tablename'] for r in cur.fetchall()]


def _truncate(cur, tables: list[str]) -> None:
    if tables:
        cur.execute('TRUNCATE ' + ', '.join(f'"{t}"' for t in tables) + ' CASCADE')


def empty_tables(store: MetaStore) -> None:
    """Every table but the migrations' emptied."""
    with store.transaction() as cur:
        _truncate(cur, _tables(cur))


def dump_tables(store: MetaStore) -> dict[str, str]:
    """Every table's rows but the migrations', by table."""
    dump = {}
    with store.transaction() as cur:
        for table in _tables(cur):
            rows = io.StringIO()
            cur.copy_expert(f'COPY "{table}" TO STDOUT', rows)
            dump[table] = rows.getvalue()
    return dump


def load_tables(store: MetaStore, dump: dict[str, str]) -> None:
    """Every table's rows replaced by those of ``dump``, in one transaction. Foreign keys are not
    checked while the rows load (the session's user is the server's superuser): they held when dumped."""
    with store.transaction() as cur:
        _truncate(cur, _tables(cur))
        cur.execute('SET LOCAL session_replication_role = replica')
        for table, rows in dump.items():
            cur.copy_expert(f'COPY "{table}" FROM STDIN', io.StringIO(rows))
