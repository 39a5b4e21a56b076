"""Where the Swarm container manager lets a service's tasks run: placement constraints chosen from
the nodes of the swarm, as plain data (nothing here talks to Docker, so all of it is unit-tested).

Swarm places each task itself, on a node that satisfies the service's constraints and has its
reservations (CPUs, memory, generic resources such as GPUs) still unreserved, spreading the tasks
of a service over such nodes. What the manager adds:

- a service with a published port (a predictor) runs on the admin's node (``node.id==...``), where
  its address is known;
- with ``avoid_manager_for_workers``, train and inference workers (they run model code) run on
  worker nodes only (``node.role==worker``);
- nodes labelled ``singa.gpu=true`` (``scripts/add_node.sh`` labels a node that advertises GPUs)
  are kept for services that reserve GPUs: any other service gets ``node.labels.singa.gpu!=true``
  as long as some node it may use has no such label (a swarm made only of GPU nodes runs
  everything on them);
- a service that no node could ever run is refused at once rather than left pending forever: GPUs
  or a CPU or memory reservation beyond what any node it may use has in all.
"""
from typing import Iterable

from singa.constants import ServiceType
from singa.container.base import ServiceSpec
from singa.errors import ContainerError

USER_CODE_SERVICES = (ServiceType.TRAIN, ServiceType.INFERENCE)
GPU_NODE_LABEL = 'singa.gpu'
NANO = 1_000_000_000
MB = 1 << 20


def placement_constraints(spec: ServiceSpec, nodes: Iterable[dict], local_node_id: str, *,
                          avoid_manager_for_workers: bool = False, gpu_resource: str = 'NVIDIA-GPU') -> list:
    """The constraints of ``spec``'s service, given the swarm's ``nodes`` (``GET /nodes``) and the
    id of the node the admin runs on; ``ContainerError`` for a service no node could run."""
    usable = [n for n in nodes if (n.get('Status') or {}).get('State') == 'ready'
              and (n.get('Spec') or {}).get('Availability') == 'active']
    constraints = []
    if spec.publish_port is not None:
        constraints.append(f'node.id=={local_node_id}')
        usable = [n for n in usable if n.get('ID') == local_node_id]
    elif avoid_manager_for_workers and spec.service_type in USER_CODE_SERVICES:
        constraints.append('node.role==worker')
        usable = [n for n in usable if n['Spec'].get('Role') == 'worker']
        if not usable:
            raise ContainerError('SINGA_AVOID_MANAGER_FOR_WORKERS is set but no worker node is ready: '
                                 'join one (scripts/add_node.sh)', resource='service')
    if spec.gpus:
        if max((node_gpus(n, gpu_resource) for n in usable), default=0) < spec.gpus:
            raise ContainerError(f'no node of the swarm offers {spec.gpus} {gpu_resource} '
                                 '(see "GPU nodes" in the README)', resource='service', field='gpus')
    elif spec.publish_port is None:
        plain = [n for n in usable if not is_gpu_node(n)]
        if plain and len(plain) < len(usable):
            constraints.append(f'node.labels.{GPU_NODE_LABEL}!=true')
            usable = plain
    if (spec.cpus or spec.memory_mb) and usable and not any(_fits(n, spec) for n in usable):
        raise ContainerError(
            f'no node of the swarm has {spec.cpus:g} CPUs and {spec.memory_mb} MB of memory for one replica '
            '(each train and inference worker reserves SINGA_WORKER_CPUS and SINGA_WORKER_MEMORY_MB)',
            resource='service', field='cpus')
    return constraints


def is_gpu_node(node: dict) -> bool:
    return ((node.get('Spec') or {}).get('Labels') or {}).get(GPU_NODE_LABEL) == 'true'


def node_gpus(node: dict, kind: str) -> int:
    """How many units of generic resource ``kind`` a node advertises."""
    total = 0
    for resource in ((node.get('Description') or {}).get('Resources') or {}).get('GenericResources') or []:
        discrete = resource.get('DiscreteResourceSpec') or {}
        named = resource.get('NamedResourceSpec') or {}
        if discrete.get('Kind') == kind:
            total += int(discrete.get('Value') or 0)
        elif named.get('Kind') == kind:
            total += 1
    return total


def _fits(node: dict, spec: ServiceSpec) -> bool:
    resources = (node.get('Description') or {}).get('Resources') or {}
    return (int(resources.get('NanoCPUs') or 0) >= spec.cpus * NANO
            and int(resources.get('MemoryBytes') or 0) >= spec.memory_mb * MB)
