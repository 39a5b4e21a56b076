"""The container manager contract: how the admin starts, inspects and removes worker services.

The admin sees only ``BaseContainerManager``; ``make_container_manager(settings)`` picks the
implementation named by ``SINGA_CONTAINER_MANAGER``:

- ``process``: each service is a group of local subprocesses (the embedded default, no Docker);
- ``swarm``: each service is a Docker Swarm service on an attachable overlay network.
"""
import abc
import dataclasses
import time
from typing import Callable, Mapping, Optional, Sequence

from singa.constants import ContainerManagerType, ServiceStatus
from singa.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Mount:
    """Shared storage made visible to a service: ``source`` at ``target``.

    ``source`` is an absolute host path (a bind mount) or a volume name; ``volume_options``, for a
    volume, are the options of Docker's ``local`` volume driver it is created with on each node
    that needs it (e.g. ``type=nfs``; see ``singa.container.storage``).
    """
    source: str
    target: str
    read_only: bool = False
    volume_options: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Confinement:
    """What a service that runs model code may use, for managers whose isolation unit is the
    service itself (Swarm: the container is the sandbox). ``memory_mb`` and ``max_pids`` bound the
    whole container (the worker and the model code it drives), ``tmp_mb`` its only writable
    directory besides its mounts."""
    memory_mb: int
    max_pids: int
    tmp_mb: int


@dataclasses.dataclass(frozen=True)
class ServiceSpec:
    """Everything needed to start one service.

    ``command`` is the argument vector run in the worker image (or, for the process manager, with
    the current Python: ``['-m', 'singa.workers', 'train']`` means ``python -m singa.workers train``).
    ``environment`` is the *whole* environment the service gets besides ``PATH``-like basics: the
    manager adds nothing of the admin's own environment, so secrets never leak into user code.
    Every manager adds ``SINGA_REPLICA_INDEX`` (distinct among a service's replicas, counted from 1),
    ``SINGA_TASK_ID`` (distinct for every start of every replica: a restarted replica gets a new
    one) and, when a port is published, ``SINGA_SERVICE_PORT``: the port the service must listen on;
    some add ``SINGA_LOG_FILE`` (see ``log_dir``).
    ``publish_port``, when set, is the container port to publish on the host; the manager picks a
    host port that cannot clash and reports it in ``ContainerService.ext_port``. (The process
    manager has no port mapping: the port it picks is both, and is what ``SINGA_SERVICE_PORT`` says.)
    ``mounts`` make shared storage visible; the process manager sees host paths and accepts only
    mounts whose target is their source. ``avoid_ports`` are host ports the caller has promised to
    other services (e.g. recorded ones being replaced): the manager never picks them.
    ``restart`` restarts a replica that exits non-zero or is
    killed, at most ``max_restarts`` times; a replica that exits 0 is done and stays down.
    ``confinement``, for services that run model code: a manager that isolates them as a whole
    (Swarm) locks the service down to it (see ``Confinement``); the process manager leaves it to
    the workers, which sandbox the model code themselves.
    ``cpus`` and ``memory_mb`` are what each replica reserves: a manager that places services on
    several machines (Swarm) puts a replica only on a node with that much not yet reserved; the
    process manager has one machine and ignores them.
    ``log_dir`` is a folder relative to the shared storage root: each replica's log is
    ``<storage>/<log_dir>/<name>-<replica>.log`` (replicas counted from 1), kept after the service
    is gone. The process manager appends the replica's output to it; a manager that cannot capture
    output there (Swarm) gives the replica the file, writable, and its path in ``SINGA_LOG_FILE``
    (SingaAuto's processes then log there themselves, ``singa.logs``).
    """
    name: str
    service_type: str
    command: Sequence[str]
    environment: Mapping[str, str]
    image: str = ''
    replicas: int = 1
    gpus: int = 0
    mounts: Sequence[Mount] = ()
    publish_port: Optional[int] = None
    avoid_ports: frozenset = frozenset()
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    restart: bool = True            # restart the service's processes when they fail
    max_restarts: int = 3
    confinement: Optional[Confinement] = None
    cpus: float = 0.0
    memory_mb: int = 0
    log_dir: str = 'logs'


@dataclasses.dataclass(frozen=True)
class ContainerService:
    """A created service. ``id`` is what the manager needs to find it again after a restart."""
    id: str
    name: str
    hostname: str
    port: Optional[int] = None
    ext_hostname: Optional[str] = None
    ext_port: Optional[int] = None
    info: Mapping = dataclasses.field(default_factory=dict)


class BaseContainerManager(abc.ABC):
    """Creates, inspects and removes worker services.

    Contract, checked by one test suite run against every implementation
    (``test/integration/test_container_contract.py``):

    - ``create_service(spec)`` returns once the service exists (not necessarily running). It raises
      ``ContainerError`` when it cannot, including for what the implementation cannot provide
      (GPUs in process mode), and then leaves nothing behind.
    - ``get_service_status(service)`` answers ``RUNNING`` while at least one of the service's
      replicas runs or is being restarted, ``DEPLOYING`` before the first one runs, ``STOPPED``
      when every replica has exited successfully, and ``ERRORED`` when replicas failed and will
      not be restarted, or when the service no longer exists although it was never destroyed.
      A manager cannot tell a destroyed service from one that vanished: it answers ``ERRORED`` for
      every id it does not find, and the caller (who knows what it destroyed) does not ask then.
      It never raises for a service that is merely gone.
    - ``destroy_service(service, timeout)`` stops every replica (SIGTERM, then SIGKILL after
      ``timeout`` seconds), returns when none is left, and removes the service; destroying a
      service that is already gone is not an error. The replicas' logs (``log_dir``) are kept.
    - ``running_tasks(service)`` returns the ``SINGA_TASK_ID`` of every replica start that runs
      now (or is about to): one that exited, was killed or is waiting to be restarted is not in
      it. The admin uses it to learn that a worker is gone as soon as the manager knows.
    - ``list_services(labels)`` returns the services this manager created (and has not destroyed)
      whose labels include ``labels``, equal to what ``create_service`` returned for them, so that
      the admin can reconcile its records after its own restart.
    - A manager object holds no state that matters: a new one (in another process) finds the
      services an old one created from ``ContainerService.id`` (an opaque string) alone.
    - Managers are safe to call from several threads and processes at once.

    ``CREATE_CONCURRENCY``: how many ``create_service`` calls the admin makes at once when it
    deploys a job's services (1: one after the other).
    """
    CREATE_CONCURRENCY = 1

    @abc.abstractmethod
    def create_service(self, spec: ServiceSpec) -> ContainerService:
        ...

    @abc.abstractmethod
    def destroy_service(self, service: ContainerService, timeout: float = 10.0) -> None:
        ...

    @abc.abstractmethod
    def get_service_status(self, service: ContainerService) -> ServiceStatus:
        ...

    @abc.abstractmethod
    def running_tasks(self, service: ContainerService) -> set[str]:
        ...

    @abc.abstractmethod
    def list_services(self, labels: Optional[Mapping[str, str]] = None) -> list[ContainerService]:
        ...


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` every ``interval`` seconds until it holds (True) or ``timeout`` passes
    (False); for implementations waiting on processes or containers."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def make_container_manager(settings) -> BaseContainerManager:
    """The manager named by ``settings.container_manager``."""
    kind = settings.container_manager
    if kind == ContainerManagerType.PROCESS:
        from singa.container.local_process import ProcessContainerManager
        return ProcessContainerManager(settings)
    if kind == ContainerManagerType.SWARM:
        from singa.container.docker_swarm import SwarmContainerManager
        return SwarmContainerManager(settings)
    raise ConfigError(f'unknown container manager {kind!r}; valid: '
                      f'{", ".join(ContainerManagerType.values())}')
