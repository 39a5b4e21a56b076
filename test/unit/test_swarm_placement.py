"""Where the Swarm manager lets services run (singa.container.swarm_placement), from node
descriptions as ``GET /nodes`` gives them: no daemon needed."""
import pytest

from singa.container.base import ServiceSpec
from singa.container.swarm_placement import node_gpus, placement_constraints
from singa.errors import ContainerError

GPU = 'node.labels.singa.gpu!=true'


def _node(node_id, role='worker', cpus=2, memory_gb=4, gpus=0, labels=None, state='ready', availability='active'):
    generic = [{'NamedResourceSpec': {'Kind': 'NVIDIA-GPU', 'Value': f'GPU-{i}'}} for i in range(gpus)]
    return {'ID': node_id, 'Status': {'State': state},
            'Spec': {'Role': role, 'Availability': availability, 'Labels': labels or {}},
            'Description': {'Resources': {'NanoCPUs': cpus * 10**9, 'MemoryBytes': memory_gb << 30,
                                          'GenericResources': generic}}}


MANAGER = _node('m', role='manager')
PLAIN = _node('w2')
GPU_NODE = _node('w1', gpus=2, labels={'singa.gpu': 'true'})


def _spec(service_type='TRAIN', **kwargs) -> ServiceSpec:
    return ServiceSpec(name='s', service_type=service_type, command=['x'], environment={}, **kwargs)


def _constraints(spec, nodes=(MANAGER, PLAIN, GPU_NODE), **kwargs):
    return placement_constraints(spec, nodes, 'm', **kwargs)


def test_gpu_nodes_are_kept_for_gpu_services_while_another_node_can_take_the_rest():
    assert _constraints(_spec()) == [GPU]
    assert _constraints(_spec('ADVISOR')) == [GPU]
    assert _constraints(_spec(gpus=1)) == []                 # the reservation itself finds the GPU node
    assert _constraints(_spec(), nodes=(MANAGER, PLAIN)) == []
    assert _constraints(_spec(), nodes=(GPU_NODE,)) == []     # only GPU nodes: everything runs there
    assert _constraints(_spec(), avoid_manager_for_workers=True) == ['node.role==worker', GPU]
    down = _node('w2', state='down')
    assert _constraints(_spec(), nodes=(GPU_NODE, down), avoid_manager_for_workers=True) == ['node.role==worker']


def test_predictors_run_on_the_admins_node_and_worker_nodes_may_be_required():
    assert _constraints(_spec('PREDICT', publish_port=3003)) == ['node.id==m']
    assert _constraints(_spec('ADVISOR'), avoid_manager_for_workers=True) == [GPU]   # no model code
    with pytest.raises(ContainerError, match='no worker node is ready'):
        _constraints(_spec(), nodes=(MANAGER, _node('w', availability='drain')), avoid_manager_for_workers=True)


def test_what_no_node_could_ever_run_is_refused():
    assert node_gpus(GPU_NODE, 'NVIDIA-GPU') == 2 and node_gpus(GPU_NODE, 'AMD-GPU') == 0
    with pytest.raises(ContainerError, match='offers 3 NVIDIA-GPU') as e:
        _constraints(_spec(gpus=3))
    assert e.value.field == 'gpus'
    assert _constraints(_spec(cpus=2, memory_mb=4096)) == [GPU]
    with pytest.raises(ContainerError, match='2.5 CPUs and 0 MB'):
        _constraints(_spec(cpus=2.5))
    with pytest.raises(ContainerError, match='8192 MB'):
        _constraints(_spec(memory_mb=8192))
    # A GPU node's own capacity counts for GPU workers only.
    big_gpu = _node('w3', cpus=16, gpus=1, labels={'singa.gpu': 'true'})
    assert _constraints(_spec(cpus=8, gpus=1), nodes=(MANAGER, big_gpu)) == []
    with pytest.raises(ContainerError):
        _constraints(_spec(cpus=8), nodes=(MANAGER, big_gpu))
