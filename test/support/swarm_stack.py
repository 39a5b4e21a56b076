"""A SingaAuto stack on the live swarm, driven as an operator drives it: ``scripts/start.sh`` and
``scripts/stop.sh`` with a stack name, home directory and admin port of its own (so a test never
touches another deployment on the same swarm), and the docker CLI to look at what runs."""
import dataclasses
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import requests

from docker_cli import docker
from singa.client import Client
from singa.local.servers import free_port

REPO = Path(__file__).resolve().parents[2]


@dataclasses.dataclass
class SwarmStack:
    name: str
    home: Path
    port: int
    env: dict
    password: str = ''
    stderr: str = ''            # what the last script said on its standard error

    @classmethod
    def new(cls, tag: str, home_root: Path, **settings) -> 'SwarmStack':
        name = f'singa-t{uuid.uuid4().hex[:6]}'
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith('SINGA_')}
        env.update(SINGA_STACK_NAME=name, SINGA_SWARM_HOME=str(home_root / name), SINGA_ADMIN_PORT=str(port),
                   SINGA_IMAGE_TAG=tag)
        env.update({f'SINGA_{k.upper()}': str(v) for k, v in settings.items()})
        return cls(name, home_root / name, port, env)

    # -- the scripts ---------------------------------------------------------------------------
    def script(self, name: str, *args: str, timeout: float = 300) -> str:
        """Run scripts/NAME; its stdout (failing the test with its output if it fails)."""
        result = subprocess.run([str(REPO / 'scripts' / name), *args], env=self.env, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, f'{name} {" ".join(args)} failed:\n{result.stdout}\n{result.stderr}'
        self.stderr = result.stderr
        return result.stdout

    def start(self) -> dict:
        """scripts/start.sh; what it printed (``admin``, ``superadmin``, ``password``, ``home``, ``join``)."""
        out = self.script('start.sh')
        fields = dict(line.strip().split(':', 1) for line in out.splitlines() if line.startswith('  '))
        printed = {k: v.strip() for k, v in fields.items()}
        self.password = printed['password']
        return printed

    def stop(self, purge: bool = False) -> str:
        return self.script('stop.sh', *(['--purge'] if purge else []))

    # -- clients -------------------------------------------------------------------------------
    def client(self, email: str = 'superadmin@singaauto', password: str = None) -> Client:
        client = Client(admin_host='127.0.0.1', admin_port=self.port)
        client.login(email, password or self.password)
        return client

    # -- what runs -----------------------------------------------------------------------------
    def stack_services(self) -> dict:
        """``{name: (id, version)}`` of the stack's own services (admin, PostgreSQL, Redis)."""
        out = docker('service', 'ls', '--filter', f'label=singa.stack={self.name}',
                     '--format', '{{.Name}}').stdout.split()
        return {name: tuple(docker('service', 'inspect', '--format', '{{.ID}} {{.Version.Index}}',
                                   name).stdout.split()) for name in out}

    def job_services(self, *labels: str) -> list:
        """Names of the services the admin created for jobs (optionally with more labels)."""
        filters = ['--filter', f'label=singa.swarm.stack={self.name}']
        for label in labels:
            filters += ['--filter', f'label={label}']
        return docker('service', 'ls', *filters, '--format', '{{.Name}}').stdout.split()

    def containers(self, jobs_only: bool = False) -> list:
        """Every container (running or not) of the stack or of its jobs (only its jobs)."""
        found = []
        labels = [f'singa.swarm.stack={self.name}'] + ([] if jobs_only else [f'singa.stack={self.name}'])
        for label in labels:
            found += docker('ps', '-a', '--quiet', '--filter', f'label={label}').stdout.split()
        return found

    def leftovers(self) -> dict:
        """What of the stack is still on this engine besides the data --purge removes."""
        return {'services': list(self.stack_services()) + self.job_services(), 'containers': self.containers()}

    def healthy(self) -> bool:
        """Whether the admin answers ``GET /health`` (PostgreSQL and Redis included) with 200."""
        try:
            return requests.get(f'http://127.0.0.1:{self.port}/health', timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill(self, service: str) -> list:
        """``docker kill`` (SIGKILL) the running containers of a service; their ids."""
        killed = service_containers(service, running_only=True)
        assert killed, f'no running container of {service}'
        for container in killed:
            docker('kill', container)
        return killed

    def everything(self) -> dict:
        """Everything of the stack on this engine and disk, data included."""
        volumes = docker('volume', 'ls', '--quiet', '--filter', f'name={self.name}-').stdout.split()
        secrets = docker('secret', 'ls', '--quiet', '--filter', f'name={self.name}-').stdout.split()
        network = docker('network', 'inspect', self.name, check=False).returncode == 0
        return dict(self.leftovers(), volumes=volumes, secrets=secrets, network=network, home=self.home.exists())


def task_container(task_id: str) -> str:
    """The running container of a Swarm task (a worker's ``SINGA_TASK_ID``)."""
    found = docker('ps', '--quiet', '--filter', f'label=com.docker.swarm.task.id={task_id}').stdout.split()
    assert len(found) == 1, f'task {task_id} runs {len(found)} containers'
    return found[0]


def service_containers(service: str, running_only: bool = False) -> list:
    args = ['ps', '--quiet', '--filter', f'label=com.docker.swarm.service.name={service}']
    if not running_only:
        args.insert(1, '-a')
    return docker(*args).stdout.split()


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    """``condition()``'s first truthy value, failing with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f'timed out after {timeout:g} s waiting for {what}'
        time.sleep(interval)


class QueryLoad:
    """``clients`` threads, each with its own client from ``new_client``, query with ``ask(client)``
    in a loop while the ``with`` block runs: how many were answered, which failed, how long each
    took, and the models that answered each."""

    def __init__(self, ask, new_client, clients: int = 1):
        self.ask, self.new_client = ask, new_client
        self.answered = 0
        self.failures: list = []
        self.latencies: list = []
        self.models: list = []                   # per answer: names of the models that answered
        self.asking: dict = {}                   # client -> when its current query started
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def _run(self, index: int):
        client = self.new_client()
        while not self._stop.is_set():
            self.asking[index] = started = time.monotonic()
            try:
                answer = self.ask(client)
                self.latencies.append(time.monotonic() - started)
                self.models.append(sorted(m['model_name'] for m in answer['models'] if m['answered']))
                self.answered += 1
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.failures.append(repr(e))
            self.asking[index] = None

    def held(self, seconds: float) -> bool:
        """Whether a query has been waiting for its answer longer than ``seconds``."""
        return any(t is not None and time.monotonic() - t > seconds for t in list(self.asking.values()))

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def freeze_until_it_holds_a_query(pause, unpause, load: QueryLoad, replica_timeout: float) -> None:
    """``pause()`` a replica's container until a query waits on it (a worker frozen between two
    batches holds none: then ``unpause()`` it and try again), so that killing it surely loses a
    batch it took."""
    for _ in range(5):
        pause()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if load.held(replica_timeout / 2):
                return
            time.sleep(0.05)
        unpause()
    raise AssertionError('no query waited on the frozen worker')
