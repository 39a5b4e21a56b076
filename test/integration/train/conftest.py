import dataclasses

import pytest

from platform_harness import running_platform
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


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch)


@pytest.fixture
def setup(platform, iris, tmp_path):
    """A model developer with the iris datasets, and template files written for the test: class
    ``name`` of ``source``, where ``SECONDS`` reads ``seconds``."""
    dev = platform.make_user('dev')
    train_id = platform.upload_dataset(dev, iris['train'])
    val_id = platform.upload_dataset(dev, iris['val'])

    def template(source: str, name: str, seconds: float = 1.0) -> str:
        path = tmp_path / f'{name.lower()}.py'
        path.write_text(source.replace('SECONDS', repr(seconds)))
        return platform.upload_model(dev, str(path), name)
    return dev, train_id, val_id, template
