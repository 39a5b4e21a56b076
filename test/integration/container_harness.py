"""What the container contract suite needs to know about each manager it runs against.

A harness wraps one manager with the few things the contract cannot say portably: how to build a
spec for a small Python worker, how to kill one replica from outside, how many times a replica was
restarted, and what of a destroyed service is still alive. To run the suite against another
manager, write a ``<name>_harness(settings, tmp_path)`` generator next to ``process_harness`` and
add it to ``HARNESSES``; ``test_container_contract.py`` is parametrized over that dict. A manager
that needs outside machinery (the Swarm one needs a Docker engine, which ``scripts/test.sh``
prepares unless ``--skip-swarm``) is added only when ``SKIP_SWARM_TESTS`` is not ``1``, so that
skipping it is the caller's explicit choice and never a silent skip.
"""
import dataclasses
import json
import os
import signal
import time
import urllib.request
from typing import Callable, Iterator

from singa.constants import ServiceStatus
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
        for service in self.created:
            self.manager.destroy_service(service, timeout=1.0)


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


HARNESSES = {'process': process_harness}
