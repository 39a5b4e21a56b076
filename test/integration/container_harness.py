"""What the container contract suite needs to know about each manager it runs against.

A harness wraps one manager with the few things the contract cannot say portably: how to build a
spec for a small Python worker, how to kill one replica from outside, how many times a replica was
restarted, and what of a destroyed service is still alive. To run the suite against another
manager, write a ``<name>_harness(settings, tmp_path, **fixtures)`` generator next to
``process_harness`` (the names in its ``fixtures`` attribute are fixtures it is given) and add it to
``HARNESSES``; ``test_container_contract.py`` is parametrized over that dict. A manager that needs
outside machinery (the Swarm one needs a Docker engine, which ``scripts/test.sh`` prepares unless
``--skip-swarm``) is added only when ``SINGA_SKIP_SWARM`` is not ``1``, so that skipping it is the
caller's explicit choice and never a silent skip.
"""
import concurrent.futures
import dataclasses
import json
import os
import signal
import time
import urllib.request
import uuid
from typing import Callable, Iterator

from docker_cli import docker, remove_network
from docker_fixtures import swarm_skipped

from singa.constants import ServiceStatus
from singa.container import swarm_specs
from singa.container.base import BaseContainerManager, ContainerService, ServiceSpec
from singa.container.local_process import ProcessContainerManager
from singa.container.process_files import ProcessRef, owned_group

# A worker that serves, on SINGA_SERVICE_PORT, a token fixed for its lifetime and its environment.
SERVE_ENV = '''
import http.server, json, os, secrets
token = secrets.token_hex(8)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"token": token, "env": dict(os.environ)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["SINGA_SERVICE_PORT"])), Handler).serve_forever()
'''
SLEEP = 'import time\nwhile True: time.sleep(1)'
# Says hello on its output (what the process manager keeps) and, where the manager gives it a log
# file instead (Swarm), in that file, as singa.logs does.
LOG_HELLO = '''
import os, time
line = "replica %s says hello\\n" % os.environ["SINGA_REPLICA_INDEX"]
print(line, end="", flush=True)
if os.environ.get("SINGA_LOG_FILE"):
    with open(os.environ["SINGA_LOG_FILE"], "a") as f:
        f.write(line)
while True:
    time.sleep(1)
'''
IGNORE_SIGTERM = 'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)'


@dataclasses.dataclass
class Harness:
    manager: BaseContainerManager
    new_manager: Callable[[], BaseContainerManager]           # another instance, same settings
    spec_defaults: dict                                       # e.g. the image, for Swarm
    kill_replica: Callable[[BaseContainerManager, ContainerService, int], None]   # SIGKILL one
    restart_count: Callable[[BaseContainerManager, ContainerService, int], int]
    leftovers: Callable[[list], list]     # what of destroyed services still runs, from `snapshot`
    snapshot: Callable[[BaseContainerManager, ContainerService], list]   # taken before destroy
    basic_env_names: frozenset            # variables a manager may add besides the spec's
    created: list = dataclasses.field(default_factory=list)

    def spec(self, name: str, code: str, **kwargs) -> ServiceSpec:
        values = dict(self.spec_defaults, name=name, service_type='TRAIN', command=['-c', code],
                      environment={})
        values.update(kwargs)
        return ServiceSpec(**values)

    def create(self, spec: ServiceSpec) -> ContainerService:
        service = self.manager.create_service(spec)
        self.created.append(service)
        return service

    def wait_status(self, service, wanted: ServiceStatus, timeout: float = 30.0) -> ServiceStatus:
        deadline = time.monotonic() + timeout
        status = self.manager.get_service_status(service)
        while status != wanted and time.monotonic() < deadline:
            time.sleep(0.05)
            status = self.manager.get_service_status(service)
        return status

    def cleanup(self) -> None:
        """Destroy every service the test created, side by side (managers are thread-safe)."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            for done in [pool.submit(self.manager.destroy_service, s, 1.0) for s in self.created]:
                done.result()


def get_json(service: ContainerService, timeout: float = 30.0, unlike: str = None) -> dict:
    """GET the worker's published port until it answers (with a token other than ``unlike``)."""
    url = f'http://{service.ext_hostname}:{service.ext_port}/'
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = json.loads(response.read())
            if unlike is None or body['token'] != unlike:
                return body
        except OSError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f'{url} kept answering token {unlike}')
        time.sleep(0.05)


# -- process ---------------------------------------------------------------------------------------
def _process_refs(manager: ProcessContainerManager, service: ContainerService) -> list:
    return [ProcessRef.from_dict(r['process']) for r in manager.replica_states(service)
            if r.get('process')]


def _process_kill(manager, service, index):
    ref = ProcessRef.from_dict(manager.replica_states(service)[index]['process'])
    os.kill(ref.pid, signal.SIGKILL)


def _process_restarts(manager, service, index):
    return manager.replica_states(service)[index]['restarts']


def process_harness(settings, tmp_path) -> Iterator[Harness]:
    settings = dataclasses.replace(settings, data_dir=str(tmp_path / 'data'),
                                   storage_dir=str(tmp_path / 'storage'))
    harness = Harness(
        manager=ProcessContainerManager(settings),
        new_manager=lambda: ProcessContainerManager(settings),
        spec_defaults={},
        kill_replica=_process_kill,
        restart_count=_process_restarts,
        snapshot=_process_refs,
        leftovers=lambda refs: [r for r in refs if owned_group(r)],
        basic_env_names=frozenset({'PATH', 'HOME', 'LANG', 'PYTHONUNBUFFERED', 'PYTHONPATH'}),
    )
    yield harness
    harness.cleanup()


# -- swarm -----------------------------------------------------------------------------------------
# What the worker image's environment holds besides what a service is given (Dockerfile ENV lines,
# and HOSTNAME/HOME from Docker itself).
IMAGE_UID = 1000                  # the user of the singa-* Python images
IMAGE_ENV_NAMES = frozenset({'PATH', 'HOME', 'HOSTNAME', 'LANG', 'VIRTUAL_ENV', 'PYTHONUNBUFFERED',
                             'PYTHONDONTWRITEBYTECODE', 'PIP_DISABLE_PIP_VERSION_CHECK', 'SINGA_DATA_DIR'})


def _slot_tasks(manager, service, index: int) -> list:
    return swarm_specs.tasks_by_slot(manager.tasks(service)).get(index + 1, [])


def _swarm_kill(manager, service, index):
    running = [t for t in _slot_tasks(manager, service, index) if t['Status']['State'] == 'running']
    assert running, f'replica {index} of {service.name} is not running'
    docker('kill', running[-1]['Status']['ContainerStatus']['ContainerID'])


def _swarm_restarts(manager, service, index):
    return len(_slot_tasks(manager, service, index)) - 1


def _swarm_containers(manager, service, timeout: float = 30.0) -> list:
    """The containers of the service's live tasks, once every replica has one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for _, c in swarm_specs.live_containers(manager.tasks(service))]
        if len(found) >= service.info['replicas'] or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _still_running(containers: list) -> list:
    running = []
    for container in containers:
        state = docker('inspect', '--format', '{{.State.Running}}', container, check=False)
        if state.returncode == 0 and state.stdout.strip() == 'true':
            running.append(container)
    return running


def swarm_harness(settings, tmp_path, singa_images, swarm) -> Iterator[Harness]:
    from singa.container.docker_swarm import SwarmContainerManager
    name = f'singa-test-{uuid.uuid4().hex[:8]}'
    docker('network', 'create', '--driver', 'overlay', '--attachable', '--label', 'singa.test=1', name)
    # The storage belongs to the images' user, as scripts/start.sh makes it: the manager gives the
    # log files it makes there the same owner.
    storage = tmp_path / 'swarm-storage'
    storage.mkdir()
    os.chown(storage, IMAGE_UID, IMAGE_UID)
    settings = dataclasses.replace(settings, container_manager='swarm', data_dir=str(tmp_path / 'data'),
                                   storage_dir=str(storage), stack_name=name, docker_network=name,
                                   stop_grace_seconds=5.0, predictor_port_min=32100, predictor_port_max=32199)
    harness = Harness(
        manager=SwarmContainerManager(settings),
        new_manager=lambda: SwarmContainerManager(settings),
        spec_defaults={'image': f'singa-worker:{singa_images}'},
        kill_replica=_swarm_kill,
        restart_count=_swarm_restarts,
        snapshot=_swarm_containers,
        leftovers=_still_running,
        basic_env_names=IMAGE_ENV_NAMES,
    )
    try:
        yield harness
    finally:
        created = {s.id for s in harness.created}
        harness.created += [s for s in harness.manager.list_services() if s.id not in created]  # left by a failure
        harness.cleanup()
        remove_network(name)


swarm_harness.fixtures = ('singa_images', 'swarm')

HARNESSES = {'process': process_harness}
if not swarm_skipped():
    HARNESSES['swarm'] = swarm_harness
