"""What the Swarm container manager decides beyond the contract: where services go and how they
are labelled, on the live single-node swarm."""
import dataclasses
import uuid

import pytest

from docker_cli import docker, remove_network
from singa.container.base import ServiceSpec
from singa.container.docker_swarm import SwarmContainerManager
from singa.errors import ContainerError

pytestmark = pytest.mark.swarm


@pytest.fixture
def manager(settings, tmp_path, singa_images, swarm):
    name = f'singa-test-{uuid.uuid4().hex[:8]}'
    docker('network', 'create', '--driver', 'overlay', '--attachable', '--label', 'singa.test=1', name)
    settings = dataclasses.replace(settings, container_manager='swarm', data_dir=str(tmp_path / 'data'),
                                   stack_name=name, docker_network=name, worker_image=f'singa-worker:{singa_images}')
    manager = SwarmContainerManager(settings)
    yield manager
    for service in manager.list_services():
        manager.destroy_service(service, timeout=1)
    remove_network(name)


def _spec(manager, **kwargs) -> ServiceSpec:
    values = dict(name='probe', service_type='TRAIN', command=['-c', 'import time; time.sleep(60)'],
                  environment={}, image=manager.settings.worker_image, labels={'singa.job_id': 'j'})
    values.update(kwargs)
    return ServiceSpec(**values)


def test_user_code_is_kept_off_managers_only_where_a_worker_node_exists(manager, swarm):
    keep_off = SwarmContainerManager(dataclasses.replace(manager.settings, avoid_manager_for_workers=True))
    with pytest.raises(ContainerError, match='no worker node'):
        keep_off.create_service(_spec(manager))
    advisor = keep_off.create_service(_spec(manager, service_type='ADVISOR'))     # runs no user code
    assert _inspect(advisor.id, '{{json .Spec.TaskTemplate.Placement.Constraints}}') in ('null', '[]')


def test_a_predictor_is_pinned_to_this_node_and_its_address_recorded(manager, swarm):
    predictor = manager.create_service(_spec(manager, service_type='PREDICT', publish_port=3003))
    assert _inspect(predictor.id, '{{json .Spec.TaskTemplate.Placement.Constraints}}') == f'["node.id=={swarm}"]'
    node_address = docker('node', 'inspect', '--format', '{{.Status.Addr}}', swarm).stdout.strip()
    assert (predictor.ext_hostname, predictor.port) == (node_address, 3003)
    assert manager.settings.predictor_port_min <= predictor.ext_port <= manager.settings.predictor_port_max
    second = manager.create_service(_spec(manager, service_type='PREDICT', publish_port=3003,
                                          avoid_ports=frozenset({predictor.ext_port + 1})))
    assert second.ext_port not in (predictor.ext_port, predictor.ext_port + 1)
    labels = _inspect(predictor.id, '{{json .Spec.Labels}}')
    assert '"singa.job_id":"j"' in labels and f'"singa.swarm.stack":"{manager.stack}"' in labels


def _inspect(service_id: str, template: str) -> str:
    return docker('service', 'inspect', '--format', template, service_id).stdout.strip()
