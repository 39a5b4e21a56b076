import threading
import uuid

import pytest

from singa.errors import ConflictError, ServiceUnavailableError
from singa.meta_store.db import MetaStore, list_migrations


def _insert_user(cur, email):
    cur.execute("INSERT INTO users (id, email, password_hash, user_type) VALUES (%s, %s, 'x', 'ADMIN')",
                (uuid.uuid4(), email))


def test_migrations_are_numbered_and_idempotent(meta_store):
    assert [v for v, _, _ in list_migrations()][0] == 1
    assert meta_store.migrate() == []


def test_transaction_commits_and_rolls_back(meta_store):
    with meta_store.transaction() as cur:
        _insert_user(cur, 'a@x')
    with pytest.raises(RuntimeError):
        with meta_store.transaction() as cur:
            _insert_user(cur, 'b@x')
            raise RuntimeError('boom')
    with meta_store.transaction() as cur:
        cur.execute('SELECT email FROM users ORDER BY email')
        assert [r['email'] for r in cur.fetchall()] == ['a@x']


def test_unique_violation_becomes_conflict(meta_store):
    with meta_store.transaction() as cur:
        _insert_user(cur, 'a@x')
    with pytest.raises(ConflictError) as info:
        with meta_store.transaction() as cur:
            _insert_user(cur, 'a@x')
    assert info.value.details['constraint'] == 'users_email_key'


def test_pool_is_bounded_and_shared_by_threads(meta_store, base_env):
    from singa.config import Settings
    store = MetaStore(Settings.from_env(base_env).postgres_dsn, max_connections=2)
    errors = []

    def work():
        try:
            for _ in range(20):
                with store.transaction() as cur:
                    cur.execute('SELECT pg_sleep(0.001)')
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert errors == []


def test_unreachable_database_is_service_unavailable():
    store = MetaStore('host=127.0.0.1 port=1 user=x password=x dbname=x', connect_timeout=1)
    with pytest.raises(ServiceUnavailableError):
        with store.transaction() as cur:
            cur.execute('SELECT 1')
