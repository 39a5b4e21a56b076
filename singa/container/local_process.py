"""``ProcessContainerManager``: services as local process groups, for the embedded stack.

Each service is a directory under ``<data_dir>/services/`` (layout in ``process_files``) and a
detached supervisor (``singa.container.supervise``) that runs, restarts and stops its replicas.
Everything the manager knows it reads from those directories, so a manager in another process
(the admin after a restart, ``singa down``) finds every service an earlier one created.

What differs from a container platform, by design or by necessity:

- A replica runs ``[sys.executable, *spec.command]`` with exactly ``spec.environment`` plus
  ``PATH``, ``HOME``, ``LANG``, ``PYTHONUNBUFFERED``, ``PYTHONPATH`` when singa would not import
  without it, ``SINGA_REPLICA_INDEX``, ``SINGA_TASK_ID`` and, for a published port,
  ``SINGA_SERVICE_PORT``. Nothing
  else of the caller's environment. It runs as the same OS user as the admin, though, and can read
  whatever that user can: process mode is for one trusted machine, not for isolating tenants.
- There are no port mappings: ``publish_port`` makes the manager choose a free host port in
  ``predictor_port_min..predictor_port_max``; the service must listen on ``SINGA_SERVICE_PORT``.
- There are no mounts: replicas see the host's files. A mount whose target differs from its
  source cannot be honoured and is refused; read-only is not enforced. ``image`` is ignored.
- GPUs cannot be reserved: a spec with ``gpus > 0`` is refused with ``ContainerError``; CPU and
  memory reservations mean nothing on one machine and are ignored.
- A replica's output (stdout and stderr) is appended to ``<storage>/<log_dir>/<name>-<replica>.log``.
"""
import importlib.metadata
import importlib.util
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Mapping, Optional

from singa.constants import ServiceStatus
from singa.container import process_files as files
from singa.container.base import BaseContainerManager, ContainerService, ServiceSpec, wait_until
from singa.container.host_ports import pick_port, port_lock
from singa.container.storage import file_stem, relative_path
from singa.errors import ContainerError

LOCAL_HOST = '127.0.0.1'
_ID = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
START_TIMEOUT = 30.0      # seconds for a supervisor to record itself
_STATUS = {'DEPLOYING': ServiceStatus.DEPLOYING, 'RUNNING': ServiceStatus.RUNNING,
           'STOPPING': ServiceStatus.RUNNING, 'STOPPED': ServiceStatus.STOPPED,
           'ERRORED': ServiceStatus.ERRORED}


class ProcessContainerManager(BaseContainerManager):
    # Starting a supervisor is mostly waiting for a new Python process, so the admin starts two at
    # once (a template's advisor and its worker together). More at once (8) returns sooner but, on
    # a busy host, makes every process of the job share the CPUs from the start and delays the
    # first trial: measured by scripts/bench_first_trial.py.
    CREATE_CONCURRENCY = 2

    def __init__(self, settings):
        self.settings = settings
        self.services_dir = os.path.join(settings.expanded_data_dir, 'services')
        self.storage_dir = os.path.abspath(settings.storage_dir)

    # -- the contract --------------------------------------------------------------------------
    def create_service(self, spec: ServiceSpec) -> ContainerService:
        self._check(spec)
        log_dir = os.path.join(self.storage_dir, relative_path(spec.log_dir))
        try:
            os.makedirs(self.services_dir, mode=0o700, exist_ok=True)
            os.makedirs(log_dir, exist_ok=True)
        except OSError as e:
            raise ContainerError(f'cannot make the service and log directories: {e}',
                                 resource='service') from e
        with self._lock():
            port = self._free_port(spec.avoid_ports) if spec.publish_port is not None else None
            service_id = f'{file_stem(spec.name)}-{secrets.token_hex(4)}'
            service_dir = os.path.join(self.services_dir, service_id)
            os.makedirs(os.path.join(service_dir, files.WORK), mode=0o700)
            files.write_json_atomic(os.path.join(service_dir, files.SPEC),
                                    self._spec_record(spec, service_id, port, log_dir))
        try:
            self._launch_supervisor(service_dir)
        except BaseException:
            self._remove(service_id, timeout=2.0)
            raise
        return self._service(service_id, files.read_json(os.path.join(service_dir, files.SPEC)))

    def destroy_service(self, service: ContainerService, timeout: float = 10.0) -> None:
        self._remove(service.id, timeout)

    def get_service_status(self, service: ContainerService) -> ServiceStatus:
        service_dir = self._dir(service.id)
        state = files.read_json(os.path.join(service_dir, files.STATE))
        if state is None:
            return ServiceStatus.ERRORED          # gone, or its supervisor never started
        status = _STATUS.get(state.get('status'), ServiceStatus.ERRORED)
        if status in (ServiceStatus.STOPPED, ServiceStatus.ERRORED):
            return status
        supervisor = files.ProcessRef.from_dict(state.get('supervisor'))
        if supervisor is None or not supervisor.alive():
            return ServiceStatus.ERRORED          # killed before it could record an outcome
        return status

    def running_tasks(self, service: ContainerService) -> set[str]:
        state = files.read_json(os.path.join(self._dir(service.id), files.STATE)) or {}
        running = set()
        for replica in state.get('replicas', []):
            process = files.ProcessRef.from_dict(replica.get('process'))
            if replica.get('state') == 'running' and replica.get('task') and process is not None and process.alive():
                running.add(replica['task'])
        return running

    def list_services(self, labels: Optional[Mapping[str, str]] = None) -> list[ContainerService]:
        found = []
        try:
            names = sorted(os.listdir(self.services_dir))
        except FileNotFoundError:
            return []
        for name in names:
            record = files.read_json(os.path.join(self.services_dir, name, files.SPEC))
            if record is None or not _ID.match(name):
                continue
            if all(record['labels'].get(k) == v for k, v in (labels or {}).items()):
                found.append(self._service(name, record))
        return found

    # -- beyond the contract -------------------------------------------------------------------
    def replica_states(self, service: ContainerService) -> list[dict]:
        """Per replica: ``state``, ``exit_code``, ``restarts`` and ``process`` (pid, start time)."""
        state = files.read_json(os.path.join(self._dir(service.id), files.STATE)) or {}
        return state.get('replicas', [])

    # -- creating ------------------------------------------------------------------------------
    @staticmethod
    def _check(spec: ServiceSpec) -> None:
        if spec.gpus > 0:
            raise ContainerError('the process container manager cannot reserve GPUs; use the swarm '
                                 'manager (SINGA_CONTAINER_MANAGER=swarm) for GPU jobs',
                                 resource='service', field='gpus')
        if spec.replicas < 1:
            raise ContainerError('a service needs at least one replica', resource='service', field='replicas')
        if not spec.command:
            raise ContainerError('a service needs a command', resource='service', field='command')
        for mount in spec.mounts:
            if os.path.abspath(mount.source) != os.path.abspath(mount.target):
                raise ContainerError(f'the process container manager cannot mount {mount.source} at '
                                     f'{mount.target}: processes see host paths (use the same path)',
                                     resource='service', field='mounts')

    def _spec_record(self, spec: ServiceSpec, service_id: str, port: Optional[int], log_dir: str) -> dict:
        environment = _basic_environment()
        environment.update({str(k): str(v) for k, v in spec.environment.items()})
        if port is not None:
            environment['SINGA_SERVICE_PORT'] = str(port)
        return {
            'id': service_id, 'name': spec.name, 'service_type': str(spec.service_type),
            'executable': sys.executable, 'command': [str(a) for a in spec.command],
            'environment': environment, 'replicas': spec.replicas, 'restart': spec.restart,
            'max_restarts': spec.max_restarts, 'labels': dict(spec.labels), 'port': port,
            'log_dir': log_dir, 'log_name': file_stem(spec.name), 'created_at': time.time(),
        }

    def _launch_supervisor(self, service_dir: str) -> None:
        log_path = os.path.join(service_dir, files.SUPERVISOR_LOG)
        with open(log_path, 'ab') as log:
            first = subprocess.Popen(
                [sys.executable, '-m', 'singa.container.supervise', service_dir],
                env=_basic_environment(), cwd=service_dir, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        try:
            first.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
        state_path = os.path.join(service_dir, files.STATE)
        state = files.read_json(state_path)
        if first.returncode != 0 or state is None:
            raise ContainerError(f'the supervisor failed to start: {files.tail(log_path)}',
                                 resource='service', id=os.path.basename(service_dir))
        # Starting the replicas takes milliseconds: wait for it, so that their pids are recorded
        # by the time the caller gets the service.
        supervisor = files.ProcessRef.from_dict(state['supervisor'])
        wait_until(lambda: (files.read_json(state_path) or {}).get('status') != 'DEPLOYING'
                    or not supervisor.alive(), START_TIMEOUT, interval=0.005)

    def _free_port(self, avoid: frozenset) -> int:
        """A host port in the predictor range that no service holds, nobody reserved and nothing
        listens on."""
        taken = {s.port for s in self.list_services() if s.port is not None} | set(avoid)
        return pick_port(self.settings, taken, _bindable)

    def _lock(self):
        """Serialise port choice between threads and processes that share this data dir."""
        return port_lock(os.path.join(self.services_dir, '.lock'))

    # -- removing ------------------------------------------------------------------------------
    def _remove(self, service_id: str, timeout: float) -> None:
        service_dir = self._dir(service_id)
        if not os.path.isdir(service_dir):
            return
        state = files.read_json(os.path.join(service_dir, files.STATE)) or {}
        supervisor = files.ProcessRef.from_dict(state.get('supervisor'))
        if supervisor is not None and supervisor.alive():
            files.write_json_atomic(os.path.join(service_dir, files.STOP), {'timeout': timeout})
            os.kill(supervisor.pid, signal.SIGTERM)
            wait_until(lambda: not supervisor.alive(), timeout + 5.0)
            if supervisor.alive():
                os.kill(supervisor.pid, signal.SIGKILL)
            state = files.read_json(os.path.join(service_dir, files.STATE)) or state
        # Backstop: replicas a dead (or stuck) supervisor left behind.
        replicas = [files.ProcessRef.from_dict(r.get('process')) for r in state.get('replicas', [])]
        _kill_groups([r for r in replicas if r is not None], timeout)
        shutil.rmtree(service_dir, ignore_errors=True)

    # -- helpers -------------------------------------------------------------------------------
    def _dir(self, service_id: str) -> str:
        if not isinstance(service_id, str) or not _ID.match(service_id):
            raise ContainerError(f'not a process service id: {service_id!r}', resource='service', id=service_id)
        return os.path.join(self.services_dir, service_id)

    def _service(self, service_id: str, record: dict) -> ContainerService:
        port = record.get('port')
        return ContainerService(
            id=service_id, name=record['name'], hostname=LOCAL_HOST, port=port,
            ext_hostname=(self.settings.public_host or LOCAL_HOST) if port is not None else None,
            ext_port=port,
            info={'service_type': record['service_type'], 'labels': record['labels'],
                  'replicas': record['replicas'],
                  'log_files': [os.path.join(record['log_dir'], f"{record['log_name']}-{i}.log")
                                for i in range(1, record['replicas'] + 1)]})


def _kill_groups(refs: list, timeout: float) -> None:
    """SIGTERM the process groups of ``refs`` that are still ours, SIGKILL them after ``timeout``."""
    groups = [r for r in refs if files.owned_group(r)]
    for ref in groups:
        files.signal_group(ref.pid, signal.SIGTERM)
    wait_until(lambda: not any(files.owned_group(r) for r in groups), timeout)
    for ref in groups:
        if files.owned_group(ref):
            files.signal_group(ref.pid, signal.SIGKILL)


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(('0.0.0.0', port))
            return True
        except OSError:
            return False


def _basic_environment() -> dict:
    """What every process the manager starts gets besides its spec's environment. Nothing here
    comes from the admin's environment except the home directory's path."""
    bin_dir = os.path.dirname(sys.executable)
    env = {'PATH': f'{bin_dir}:/usr/local/bin:/usr/bin:/bin', 'HOME': os.path.expanduser('~'),
           'LANG': 'C.UTF-8', 'PYTHONUNBUFFERED': '1'}
    root = _singa_root_if_not_installed()
    if root:
        env['PYTHONPATH'] = root
    return env


def _singa_root_if_not_installed() -> Optional[str]:
    """The directory to put on PYTHONPATH when singa is imported from a source tree that is not
    installed in this interpreter (installed, editable or not, it imports without help)."""
    try:
        importlib.metadata.distribution('singa-auto')
        return None
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec('singa')
        return os.path.dirname(os.path.dirname(spec.origin)) if spec and spec.origin else None
