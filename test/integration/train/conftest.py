import dataclasses

import pytest

from singa.queues import make_redis
from worker_harness import WorkerProcesses, build_dataset


@pytest.fixture(scope='session')
def iris(tmp_path_factory):
    return build_dataset('iris', str(tmp_path_factory.mktemp('iris')))


@pytest.fixture
def redis_client(settings):
    client = make_redis(settings)
    yield client
    client.close()


@pytest.fixture
def workers(meta_store, settings, redis_client, tmp_path):
    log_dir = tmp_path / 'logs'
    log_dir.mkdir()
    harness = WorkerProcesses(meta_store, dataclasses.replace(settings, trial_lease_seconds=2.0),
                              redis_client, str(log_dir))
    yield harness
    harness.close()
