import dataclasses

import pytest

from singa.queues import make_redis
from worker_harness import WorkerProcesses


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
