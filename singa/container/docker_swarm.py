"""``SwarmContainerManager``: services as Docker Swarm services; ``DockerSandbox``: a throwaway
container for running untrusted code briefly (the admin's template inspection).

The only module that imports the Docker SDK; every Docker or connection error becomes a
``ContainerError`` here. The manager talks to the local Docker Engine, which must be a Swarm
manager node (the admin runs on one, with ``/var/run/docker.sock`` mounted). How a spec becomes
a service is in ``swarm_specs``; what the manager decides itself:

- **names and labels**: the service is named after the spec plus a random suffix; every service
  carries ``singa.swarm.stack=<settings.stack_name>``, so ``list_services`` sees only this
  deployment's services, and several deployments (or test runs) can share a swarm.
- **ports**: a published port gets a host port in ``predictor_port_min..max`` that no service in
  the swarm publishes and the spec does not avoid, chosen and claimed under a file lock (in
  ``data_dir``) shared by the admin's processes. Predictors are placed on this node (the admin's),
  so their address is ``settings.public_host`` or this node's address.
- **networks**: services that run model code (``spec.confinement``) join
  ``settings.worker_network``, which reaches Redis and nothing of the admin or PostgreSQL; the
  others join ``settings.docker_network``.
- **placement**: ``swarm_placement`` chooses the constraints (predictors on this node; with
  ``avoid_manager_for_workers``, user code on worker nodes; GPU nodes kept for GPU services) and
  refuses a spec no node could ever run; Swarm then places each task by its reservations.
- **logs**: each replica logs to ``<storage>/<spec.log_dir>/<name>-<slot>.log``: the manager
  creates the files on the shared storage (owned by the storage's owner) and mounts each replica
  its own, and nothing else of the logs, with its path in ``SINGA_LOG_FILE``.
- **stopping**: ``destroy_service`` scales the service to 0 (Swarm sends SIGTERM), kills the
  containers on this node still running after ``timeout``, then removes the service. Containers on
  other nodes get Swarm's stop grace period (``settings.stop_grace_seconds``) instead.
- **restarts**: Swarm keeps only the last few tasks of a replica (the task history retention
  limit), and the status is read from them: ``max_restarts`` must stay below that limit.
"""
import contextlib
import io
import os
import posixpath
import secrets
import stat
import tarfile
import tempfile
import threading
import time
from typing import Mapping, Optional

import docker
import requests

from singa.constants import ServiceStatus
from singa.container import swarm_specs as specs
from singa.container.base import BaseContainerManager, ContainerService, ServiceSpec, wait_until
from singa.container.host_ports import pick_port, port_lock
from singa.container.storage import STORAGE_TARGET, file_stem, log_mounts, relative_path
from singa.container.swarm_placement import placement_constraints
from singa.errors import ContainerError

POLL_SECONDS = 0.1


@contextlib.contextmanager
def docker_errors(action: str, service_id: Optional[str] = None):
    """Turn whatever the Docker SDK or the connection raises into ``ContainerError``."""
    try:
        yield
    except docker.errors.APIError as e:
        raise ContainerError(f'{action}: {e.explanation or e}', resource='service', id=service_id) from e
    except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
        raise ContainerError(f'{action}: cannot talk to Docker ({e})', resource='service', id=service_id) from e


class DockerClientHolder:
    """One low-level Docker client per object, made on first use (nothing connects at import or
    construction), negotiating the API version with the daemon."""

    def __init__(self, client: Optional[docker.APIClient] = None):
        self._client = client
        self._client_lock = threading.Lock()

    @property
    def api(self) -> docker.APIClient:
        with self._client_lock:
            if self._client is None:
                with docker_errors('connecting to the Docker Engine'):
                    self._client = docker.APIClient(version='auto', timeout=60,
                                                    **docker.utils.kwargs_from_env())
            return self._client


class SwarmContainerManager(DockerClientHolder, BaseContainerManager):
    def __init__(self, settings, client: Optional[docker.APIClient] = None):
        super().__init__(client)
        self.settings = settings
        self.stack = settings.stack_name

    # -- the contract --------------------------------------------------------------------------
    def create_service(self, spec: ServiceSpec) -> ContainerService:
        with docker_errors(f'creating service {spec.name}'):
            info = self.api.info()
            self._check(spec, info)
            node = self.api.inspect_node(info['Swarm']['NodeID'])
            constraints = placement_constraints(
                spec, self.api.nodes(), node['ID'], avoid_manager_for_workers=self.settings.avoid_manager_for_workers,
                gpu_resource=self.settings.gpu_resource)
            log_file, log_mounts = self._log_files(spec)
            with self._port_lock() if spec.publish_port is not None else contextlib.nullcontext():
                host_port = self._free_port(spec.avoid_ports) if spec.publish_port is not None else None
                network = (self.settings.worker_network or self.settings.docker_network) if spec.confinement \
                    else self.settings.docker_network
                body = specs.service_document(
                    spec, name=specs.service_name(spec.name, secrets.token_hex(3)), stack=self.stack,
                    network=network, constraints=constraints, host_port=host_port,
                    ext_hostname=self.settings.public_host or node['Status'].get('Addr', ''),
                    stop_grace_seconds=self.settings.stop_grace_seconds, gpu_resource=self.settings.gpu_resource,
                    log_file=log_file, log_mounts=log_mounts)
                created = self.api.create_service(
                    body['TaskTemplate'], name=body['Name'], labels=body['Labels'], mode=body['Mode'],
                    endpoint_spec=body['EndpointSpec'])
        try:
            with docker_errors(f'reading back service {body["Name"]}', created['ID']):
                return specs.container_service(self.api.inspect_service(created['ID']))
        except ContainerError:
            self._remove(created['ID'])
            raise

    def destroy_service(self, service: ContainerService, timeout: float = 10.0) -> None:
        with docker_errors(f'removing service {service.name}', service.id):
            try:
                current = self.api.inspect_service(service.id)
            except docker.errors.NotFound:
                return
            local_node = self.api.info()['Swarm']['NodeID']
            before = specs.live_containers(self._tasks(service.id))
            self._scale_to_zero(current)
            if not wait_until(lambda: not specs.live_containers(self._tasks(service.id)), timeout, POLL_SECONDS):
                for node, container in before:
                    if node == local_node:
                        self._kill(container)
                remote = [c for n, c in before if n != local_node]
                wait_until(lambda: not specs.live_containers(self._tasks(service.id)),
                           self.settings.stop_grace_seconds + 5.0 if remote else 5.0, POLL_SECONDS)
            self._remove(service.id)

    def get_service_status(self, service: ContainerService) -> ServiceStatus:
        with docker_errors(f'reading service {service.name}', service.id):
            try:
                current = self.api.inspect_service(service.id)
            except docker.errors.NotFound:
                return ServiceStatus.ERRORED
            return specs.service_status(current, self._tasks(service.id))

    def running_tasks(self, service: ContainerService) -> set[str]:
        with docker_errors(f'reading the tasks of {service.name}', service.id):
            return specs.running_tasks(self._tasks(service.id))

    def list_services(self, labels: Optional[Mapping[str, str]] = None) -> list[ContainerService]:
        wanted = [f'{specs.LABEL_STACK}={self.stack}'] + [f'{k}={v}' for k, v in (labels or {}).items()]
        with docker_errors('listing services'):
            found = self.api.services(filters={'label': wanted})
        return sorted((specs.container_service(s) for s in found), key=lambda s: s.id)

    # -- beyond the contract -------------------------------------------------------------------
    def tasks(self, service: ContainerService) -> list[dict]:
        """The service's Swarm tasks (``GET /tasks``), for tests and diagnostics."""
        with docker_errors(f'reading the tasks of {service.name}', service.id):
            return self._tasks(service.id)

    # -- creating ------------------------------------------------------------------------------
    def _check(self, spec: ServiceSpec, info: dict) -> None:
        def refuse(message: str, field: str):
            raise ContainerError(message, resource='service', field=field)

        if spec.replicas < 1:
            refuse('a service needs at least one replica', 'replicas')
        if not spec.command:
            refuse('a service needs a command', 'command')
        if not spec.image:
            refuse('the swarm container manager needs an image for every service', 'image')
        if any(str(k).startswith(specs.LABEL_PREFIX) for k in spec.labels):
            refuse(f'labels starting with {specs.LABEL_PREFIX} are the manager\'s own', 'labels')
        swarm = info.get('Swarm') or {}
        if swarm.get('LocalNodeState') != 'active' or not swarm.get('ControlAvailable'):
            refuse('this Docker Engine is not a Swarm manager: run scripts/start.sh (or `docker swarm '
                   'init`) on a manager node', 'container_manager')
        history = (((swarm.get('Cluster') or {}).get('Spec') or {}).get('Orchestration') or {}) \
            .get('TaskHistoryRetentionLimit') or 5
        if spec.restart and spec.max_restarts >= history:
            refuse(f'max_restarts must be below the swarm\'s task history limit ({history}); raise it '
                   'with `docker swarm update --task-history-limit N`', 'max_restarts')

    def _log_files(self, spec: ServiceSpec) -> tuple:
        """The container path of each replica's log file and the mounts that make it writable;
        the files are made here first (a bind mount needs its source), one per replica, owned
        like the storage root (the images' user) when we are root."""
        folder = relative_path(spec.log_dir)
        name = file_stem(spec.name)
        relative = posixpath.join(folder, f'{name}-{specs.REPLICA_TEMPLATE}.log')
        local = os.path.join(self.settings.storage_dir, folder)
        try:
            os.makedirs(local, exist_ok=True)
            owner = os.stat(self.settings.storage_dir)
            for replica in range(1, spec.replicas + 1):
                path = os.path.join(local, f'{name}-{replica}.log')
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640))
                if os.geteuid() == 0:
                    os.chown(path, owner.st_uid, owner.st_gid)
        except OSError as e:
            raise ContainerError(f'cannot make the log files of {spec.name} in {local}: {e}', resource='service') from e
        return posixpath.join(STORAGE_TARGET, relative), log_mounts(self.settings, relative, spec.mounts)

    def _free_port(self, avoid: frozenset) -> int:
        return pick_port(self.settings, specs.published_ports(self.api.services()) | set(avoid))

    def _port_lock(self):
        """Serialise choosing and claiming ports between the admin's processes."""
        return port_lock(os.path.join(self.settings.expanded_data_dir, f'swarm-ports-{self.stack}.lock'))

    # -- stopping ------------------------------------------------------------------------------
    def _scale_to_zero(self, current: dict) -> None:
        for attempt in range(3):
            try:
                self.api.update_service(current['ID'], current['Version']['Index'],
                                        mode={'Replicated': {'Replicas': 0}}, fetch_current_spec=True)
                return
            except docker.errors.NotFound:
                return
            except docker.errors.APIError:
                if attempt == 2:
                    raise            # updated concurrently three times in a row: give up
                current = self.api.inspect_service(current['ID'])

    def _kill(self, container: str) -> None:
        try:
            self.api.kill(container)
        except docker.errors.APIError:
            pass                     # gone or no longer running: what we wanted

    def _remove(self, service_id: str) -> None:
        with docker_errors('removing service', service_id):
            try:
                self.api.remove_service(service_id)
            except docker.errors.NotFound:
                pass

    def _tasks(self, service_id: str) -> list[dict]:
        """The service's tasks; none once it is gone (removed meanwhile, by us or another caller)."""
        try:
            tasks = self.api.tasks(filters={'service': service_id})
        except docker.errors.NotFound:
            return []
        return [t for t in tasks if t.get('ServiceID') == service_id]


class DockerSandbox(DockerClientHolder):
    """Runs ``python ARGV`` in a throwaway container on this node (``singa.model.inspect``'s sandbox
    interface): the image is ``image`` or ``settings.worker_image``; no network; read-only root file
    system with a small ``/tmp`` tmpfs; user ``nobody`` with no capabilities and no privilege
    escalation; ``memory_mb`` of memory (no swap), one CPU, a bounded number of processes. The files
    (and host directories, ``dirs``) are copied in, owned by root and read-only, into ``/sandbox``
    (its working directory, on a volume of its own removed with the container); nothing of the
    host is mounted. ``output`` (``(name, path)``): an empty directory ``/sandbox/<name>`` the
    program may write, copied out as a tar file to ``path`` when it exits with 0. The container is
    removed afterwards, whatever happened."""

    WORKDIR = '/sandbox'
    USER = '65534:65534'
    PIDS_LIMIT = 256

    def __init__(self, settings, client: Optional[docker.APIClient] = None):
        super().__init__(client)
        self.settings = settings

    def image_id(self, image: Optional[str] = None) -> str:
        """The id of the image ``run`` would use."""
        with docker_errors('inspecting the sandbox image'):
            return self.api.inspect_image(image or self.settings.worker_image)['Id']

    def run(self, argv, files: Mapping[str, bytes], timeout: float, memory_mb: int, image: Optional[str] = None,
            dirs: Optional[Mapping[str, str]] = None, output: Optional[tuple] = None):
        from singa.sandbox.base import SandboxRun
        api = self.api
        with docker_errors('running the sandbox container'):
            host_config = api.create_host_config(
                network_mode='none', read_only=True, cap_drop=['ALL'], security_opt=['no-new-privileges'],
                mem_limit=f'{int(memory_mb)}m', memswap_limit=f'{int(memory_mb)}m', nano_cpus=1_000_000_000,
                pids_limit=self.PIDS_LIMIT, init=True, tmpfs={'/tmp': 'rw,nosuid,nodev,size=64m,mode=1777'},
                # What the template prints is kept by the engine: bounded, so it cannot fill the disk.
                log_config=docker.types.LogConfig(type='json-file', config={'max-size': '1m', 'max-file': '1'}),
                mounts=[docker.types.Mount(self.WORKDIR, None, type='volume')])
            container = api.create_container(
                image or self.settings.worker_image, command=list(argv), entrypoint=['python'], user=self.USER,
                working_dir=self.WORKDIR, host_config=host_config, network_disabled=True,
                environment={'HOME': '/tmp', 'TMPDIR': '/tmp', 'PYTHONDONTWRITEBYTECODE': '1',
                             'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'},
                labels={specs.LABEL_STACK: self.settings.stack_name, specs.LABEL_PREFIX + 'sandbox': '1'})['Id']
            try:
                with tempfile.TemporaryFile() as archive:
                    _read_only_tar(archive, files, dirs or {}, output[0] if output else None)
                    archive.seek(0)
                    api.put_archive(container, self.WORKDIR, archive)
                api.start(container)
                try:
                    exit_code = api.wait(container, timeout=max(timeout, 0.1))['StatusCode']
                except requests.exceptions.RequestException:     # the time limit
                    return SandboxRun(None, b'', b'')
                out_of_memory = api.inspect_container(container)['State'].get('OOMKilled', False)
                if output and exit_code == 0:
                    stream, _ = api.get_archive(container, f'{self.WORKDIR}/{output[0]}')
                    with open(output[1], 'wb') as f:
                        for chunk in stream:
                            f.write(chunk)
                return SandboxRun(exit_code, api.logs(container, stdout=True, stderr=False),
                                  api.logs(container, stdout=False, stderr=True), out_of_memory)
            finally:
                api.remove_container(container, v=True, force=True)


def _read_only_tar(out, files: Mapping[str, bytes], dirs: Mapping[str, str], writable: Optional[str]) -> None:
    """Write to ``out`` a tar of ``files`` and of the host directories ``dirs`` (regular files and
    directories; everything root's and read-only), and of an empty world-writable directory
    ``writable``."""
    now = time.time()

    def entry(name: str, mode: int, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = size, mode, 0, 0, now
        if directory:
            info.type = tarfile.DIRTYPE
        return info

    with tarfile.open(fileobj=out, mode='w') as tar:
        for name, data in files.items():
            tar.addfile(entry(name, 0o444, len(data)), io.BytesIO(data))
        for name, root in dirs.items():
            tar.addfile(entry(name, 0o555, directory=True))
            for directory, subdirs, names in os.walk(root):
                relative = os.path.relpath(directory, root)
                for sub in sorted(subdirs):
                    tar.addfile(entry(os.path.normpath(os.path.join(name, relative, sub)), 0o555, directory=True))
                for file_name in sorted(names):
                    path = os.path.join(directory, file_name)
                    st = os.lstat(path)
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    with open(path, 'rb') as f:
                        tar.addfile(entry(os.path.normpath(os.path.join(name, relative, file_name)),
                                          0o555 if st.st_mode & 0o111 else 0o444, st.st_size), f)
        if writable:
            tar.addfile(entry(writable, 0o777, directory=True))
