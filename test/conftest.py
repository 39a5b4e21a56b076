"""Test session: a real PostgreSQL and a real Redis, started once per session in a temporary
directory (the embedded servers of ``singa.local.servers``) and stopped at the end."""
import os
import sys
import shutil
import tempfile

import pytest

# Shared harnesses (platform_harness, worker_harness) for tests in any folder.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'support'))

from database import empty_tables  # noqa: E402
from docker_cli import admin_post_mortem  # noqa: E402
# The Docker fixtures serve test/swarm/ and the Swarm run of the container contract suite.
from docker_fixtures import docker_engine, docker_resources, singa_images, swarm  # noqa: E402,F401
from singa.config import Settings  # noqa: E402
from singa.local.servers import EmbeddedPostgres, EmbeddedRedis
from singa.meta_store.db import MetaStore

TEST_SECRET = 'test-token-secret-0123456789abcdef'
_OWN_BASETEMP = []


def pytest_configure(config):
    config.addinivalue_line('markers', 'swarm: needs a Docker Engine (skipped only with SINGA_SKIP_SWARM=1)')
    # Sessions running side by side share /tmp/pytest-of-<user>, and each prunes the others' old
    # directories: a running server's data directory could vanish under it (and then never be
    # stopped). Each session gets a base directory of its own, removed at its end.
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix='singa-pytest-')
        _OWN_BASETEMP.append(config.option.basetemp)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed Swarm test's report says what became of the admins (CI keeps only the output)."""
    outcome = yield
    report = outcome.get_result()
    if report.when == 'call' and report.failed and item.get_closest_marker('swarm'):
        report.sections.append(('the Swarm admins at the failure', admin_post_mortem()))


def pytest_unconfigure(config):
    for path in _OWN_BASETEMP:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='session')
def pg_server(tmp_path_factory):
    server = EmbeddedPostgres(str(tmp_path_factory.mktemp('postgres'))).start()
    yield server
    server.stop()


@pytest.fixture(scope='session')
def redis_server(tmp_path_factory):
    server = EmbeddedRedis(str(tmp_path_factory.mktemp('redis'))).start()
    yield server
    server.stop()


@pytest.fixture(scope='session')
def base_env(pg_server, redis_server, tmp_path_factory):
    """The ``SINGA_*`` environment of a platform that uses the session's servers."""
    env = {}
    env.update(pg_server.settings_env())
    env.update(redis_server.settings_env())
    env.update({
        'SINGA_MODE': 'production',
        'SINGA_TOKEN_SECRET': TEST_SECRET,
        'SINGA_SUPERADMIN_EMAIL': 'superadmin@singaauto',
        'SINGA_SUPERADMIN_PASSWORD': 'superadmin-test-password',
        'SINGA_DATA_DIR': str(tmp_path_factory.mktemp('data')),
        'SINGA_CONTAINER_MANAGER': 'process',
    })
    return env


@pytest.fixture
def settings(base_env, tmp_path) -> Settings:
    """Settings for one test: the session's servers, a fresh storage directory."""
    return Settings.from_env(base_env, storage_dir=str(tmp_path / 'storage'))


@pytest.fixture(scope='session')
def _migrated_store(base_env):
    store = MetaStore(Settings.from_env(base_env).postgres_dsn)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def meta_store(_migrated_store) -> MetaStore:
    """The session's migrated database, emptied before the test."""
    empty_tables(_migrated_store)
    return _migrated_store


@pytest.fixture(scope='session')
def iris(tmp_path_factory) -> dict:
    """The iris example dataset's CSV splits: ``{'train': path, 'val': path, 'test': path}``."""
    from worker_harness import build_dataset
    return build_dataset('iris', str(tmp_path_factory.mktemp('iris')))
