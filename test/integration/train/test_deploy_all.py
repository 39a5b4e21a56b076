"""Deploying a job's services (``Deployer.deploy_all``) with the real process container manager,
which starts them several at once: every one recorded where it runs, or, when one cannot be
started, none left behind."""
import dataclasses

import pytest

from singa.admin.services.deployer import Deployer
from singa.container.local_process import ProcessContainerManager
from singa.errors import ContainerError
from singa.meta_store import services
from test_trial_slots import TEMPLATE
from worker_harness import seed_dataset, seed_model, seed_user


@pytest.fixture
def seeded(meta_store, settings, iris, workers, tmp_path):
    """A job of two templates with two workers each, recorded but not deployed: its six services."""
    path = tmp_path / 'timed.py'
    path.write_text(TEMPLATE.format(n=0, seconds=0.1))
    with meta_store.transaction() as cur:
        owner = seed_user(cur)
        train_id = seed_dataset(cur, settings, owner, iris['train'])
        val_id = seed_dataset(cur, settings, owner, iris['val'])
        model_ids = [seed_model(cur, settings, owner, str(path), 'Timed0') for _ in range(2)]
    job, created = workers.seed_job(owner, train_id, val_id, model_ids, {'TIME_HOURS': 0.01, 'MODEL_TRIAL_COUNT': 1},
                                    workers=2)
    return job, [s for _, advisor, train in created for s in (advisor, *train)]


@pytest.fixture
def manager(settings):
    manager = ProcessContainerManager(settings)
    assert manager.CREATE_CONCURRENCY > 1
    yield manager
    for service in manager.list_services({}):
        manager.destroy_service(service, timeout=2)


def test_every_service_of_a_job_is_deployed_and_recorded(meta_store, settings, redis_client, manager, seeded):
    job, recorded = seeded
    Deployer(meta_store, settings, manager, redis_client).deploy_all([(s, None) for s in recorded])
    started = {s.id for s in manager.list_services({'singa.job_id': str(job.id)})}
    with meta_store.transaction() as cur:
        deployed = {s.container_service_id for s in services.list_services(cur, job_id=job.id)}
    assert len(started) == len(recorded) and deployed == started


def test_a_service_that_cannot_be_started_takes_the_others_down_with_it(meta_store, settings, redis_client, manager,
                                                                       seeded):
    job, recorded = seeded
    refused = dataclasses.replace(recorded[3], gpus=1)       # the process manager places no GPUs
    to_deploy = [(s, None) for s in recorded[:3]] + [(refused, None)] + [(s, None) for s in recorded[4:]]
    with pytest.raises(ContainerError, match='GPU'):
        Deployer(meta_store, settings, manager, redis_client).deploy_all(to_deploy)
    assert manager.list_services({'singa.job_id': str(job.id)}) == []
