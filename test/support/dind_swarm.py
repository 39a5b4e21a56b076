"""A Docker Swarm of several nodes on this one machine, and a SingaAuto stack on it, set up the way
an operator sets up machines: each node is a Docker-in-Docker container of ``singa-node``
(``scripts/build_images.sh --only node``: Debian's docker.io on the project's base image) running
its own engine, on a bridge network of its own; the manager runs ``scripts/start.sh`` with shared
storage and the stack's own registry, and each worker node runs the ``scripts/join_node.sh``
command that ``scripts/add_node.sh`` printed on the manager, then is labelled by
``scripts/add_node.sh NODE``.

- **Shared storage**: one directory of this machine, mounted at the same path (``STORAGE_PATH``)
  on every node, standing in for an NFS mount (this kernel has no NFS client).
- **Images**: the manager's engine gets the stack's images with ``docker save | docker load`` (as
  if built there); every other node pulls the worker image from the stack's registry, by digest.
  The registry keeps its data in ``<build cache>/dind-registry`` across runs, so an unchanged image
  is not pushed again.
- **Isolation**: the nodes' engines are their own (their swarm, networks, containers, images), so
  the host's own swarm is never touched. ``down()`` removes the nodes (and their volumes), the
  network and the storage; the registry's cache stays.

Nodes get every capability but CAP_SYS_RESOURCE instead of ``--privileged`` (which asks for that
one too, and this machine does not grant it), unconfined seccomp, AppArmor and /proc, and a
private cgroup namespace that their entry point makes writable.
"""
import concurrent.futures
import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Optional

from docker_cli import docker, remove_network
from singa.client import Client
from singa.envs.pip import tree_size

REPO = Path(__file__).resolve().parents[2]
REPO_PATH = '/opt/singa'                        # the repository in every node, read-only
STORAGE_PATH = '/srv/singa-storage'             # the shared storage, the same path on every node
REGISTRY_CACHE_PATH = '/var/lib/singa-registry'  # the registry's data, on the manager
REGISTRY_PORT = 5000
ADMIN_PORT = 3000
CACHE_LIMIT_BYTES = 3 << 30                     # a bigger registry cache is emptied
NODE_FLAGS = ('--init', '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined',
              '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined',
              '--cgroupns', 'private', '--tmpfs', '/run')
# What the manager's engine needs: the stack's own images (the nodes get the worker by registry).
MANAGER_IMAGES = ('admin', 'worker', 'predictor', 'postgres', 'redis', 'registry')


@dataclasses.dataclass
class Node:
    name: str                   # its hostname, as `docker node ls` shows it
    container: str
    gpus: tuple = ()            # generic resources it advertises: NVIDIA-GPU=<id>
    ip: str = ''


class DindSwarm:
    def __init__(self, tag: str, work_dir: Path, workers: dict, settings: Optional[dict] = None,
                 cache_dir: Optional[Path] = None, say=print):
        """``workers``: {hostname: number of fake GPUs}; ``settings``: SINGA_* values for start.sh
        (lower-case names without the prefix)."""
        self.id = uuid.uuid4().hex[:6]
        self.tag = tag
        self.network = f'singa-dind-{self.id}'
        self.storage = work_dir / 'storage'
        self.cache = (cache_dir or Path(os.environ.get('SINGA_BUILD_CACHE', REPO / '.singa'))) / 'dind-registry'
        self.manager = Node('manager', f'{self.network}-manager')
        self.workers = [Node(name, f'{self.network}-{name}',
                             tuple(f'NVIDIA-GPU=GPU-{self.id}-{name}-{i}' for i in range(gpus)))
                        for name, gpus in workers.items()]
        self.stack = f'singa-{self.id}'
        self.settings = {'stack_name': self.stack, 'swarm_home': f'/root/singa-swarm/{self.stack}',
                         'storage_volume': STORAGE_PATH, 'registry_port': REGISTRY_PORT,
                         'registry_dir': REGISTRY_CACHE_PATH, 'registry_images': 'worker', 'image_tag': tag,
                         'admin_port': ADMIN_PORT, **(settings or {})}
        self.password = ''
        self.timings: dict = {}
        self.say = say

    @property
    def nodes(self) -> list:
        return [self.manager, *self.workers]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    # -- up and down ---------------------------------------------------------------------------
    def up(self) -> 'DindSwarm':
        self._timed('network and nodes', self._start_nodes)
        self._timed('manager engine', self._start_manager_engine)
        self._timed('images into the manager', self._load_manager_images)
        self._timed('start.sh', self._start_stack)
        self._timed('nodes joined', self._join_workers)
        return self

    def down(self) -> None:
        # Side by side: removing a node's engine volume (its images) is most of the time.
        _each(lambda node: docker('rm', '--force', '--volumes', node.container, check=False, timeout=120),
              self.nodes)
        remove_network(self.network)
        shutil.rmtree(self.storage, ignore_errors=True)

    def _timed(self, what: str, step) -> None:
        started = time.monotonic()
        step()
        self.timings[what] = round(time.monotonic() - started, 1)
        self.say(f'dind swarm: {what} in {self.timings[what]:.1f} s')

    def _start_nodes(self) -> None:
        docker('network', 'create', '--label', f'singa.dind={self.id}', self.network)
        self.storage.mkdir(parents=True)
        if tree_size(str(self.cache)) > CACHE_LIMIT_BYTES:
            shutil.rmtree(self.cache, ignore_errors=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        def start(node: Node):
            mounts = ['-v', f'{self.storage}:{STORAGE_PATH}', '-v', f'{REPO}:{REPO_PATH}:ro']
            if node is self.manager:
                mounts += ['-v', f'{self.cache}:{REGISTRY_CACHE_PATH}']
            docker('run', '--detach', '--name', node.container, '--hostname', node.name, '--network', self.network,
                   '--label', f'singa.dind={self.id}', *NODE_FLAGS, *mounts, f'singa-node:{self.tag}')
            node.ip = docker('inspect', '--format', f'{{{{(index .NetworkSettings.Networks "{self.network}").IPAddress}}}}',
                             node.container).stdout.strip()
        _each(start, self.nodes)

    def _start_manager_engine(self) -> None:
        # The manager's engine trusts its own registry, as every node's must (join_node.sh does it).
        self.script(self.manager, 'join_node.sh', '--registry', self.registry, '--no-join')
        self.sh(self.manager, 'docker', 'swarm', 'init', '--advertise-addr', self.manager.ip,
                '--dispatcher-heartbeat', '2s')

    def _load_manager_images(self) -> None:
        save = subprocess.Popen(['docker', 'save', *[f'singa-{r}:{self.tag}' for r in MANAGER_IMAGES]],
                                stdout=subprocess.PIPE)
        load = subprocess.run(['docker', 'exec', '-i', self.manager.container, 'docker', 'load', '--quiet'],
                              stdin=save.stdout, capture_output=True, text=True)
        save.stdout.close()
        assert save.wait() == 0 and load.returncode == 0, load.stderr

    def _start_stack(self) -> None:
        out = self.script(self.manager, 'start.sh', env=self.stack_env(), timeout=600)
        printed = dict(line.strip().split(':', 1) for line in out.splitlines() if line.startswith('  '))
        self.password = printed['password'].strip()

    def _join_workers(self) -> None:
        command = shlex.split(self.script(self.manager, 'add_node.sh', env=self.stack_env()).strip())
        assert command[0] == 'scripts/join_node.sh', command

        def join(node: Node):
            self.script(node, 'join_node.sh', *command[1:], *[a for gpu in node.gpus for a in ('--gpu', gpu)])
            self.script(self.manager, 'add_node.sh', node.name, env=self.stack_env())
        _each(join, self.workers)

    # -- what an operator does to nodes -------------------------------------------------------
    def kill(self, name: str) -> None:
        """The node dies at once: its engine and every container on it."""
        docker('kill', self.node(name).container)

    def restart(self, name: str) -> None:
        """The machine comes back: its engine starts and the node rejoins the swarm by itself."""
        node = self.node(name)
        docker('start', node.container)
        self.script(node, 'ensure_docker.sh')

    # -- commands in nodes ---------------------------------------------------------------------
    @property
    def registry(self) -> str:
        return f'{self.manager.ip}:{REGISTRY_PORT}'

    def stack_env(self) -> dict:
        return {f'SINGA_{k.upper()}': str(v) for k, v in self.settings.items()}

    def sh(self, node: Node, *args: str, env: Optional[dict] = None, timeout: float = 300,
           check: bool = True) -> subprocess.CompletedProcess:
        env_args = [a for k, v in (env or {}).items() for a in ('--env', f'{k}={v}')]
        result = subprocess.run(['docker', 'exec', *env_args, node.container, *args], capture_output=True,
                                text=True, timeout=timeout)
        assert not check or result.returncode == 0, \
            f'{node.name}: {" ".join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}'
        return result

    def script(self, node: Node, name: str, *args: str, env: Optional[dict] = None, timeout: float = 300) -> str:
        return self.sh(node, f'{REPO_PATH}/scripts/{name}', *args, env=env, timeout=timeout).stdout

    def swarm(self, *args: str, check: bool = True) -> str:
        """The docker CLI on the manager (the swarm's view); its output."""
        return self.sh(self.manager, 'docker', *args, check=check).stdout

    # -- what runs where -----------------------------------------------------------------------
    def services(self, *labels: str) -> list:
        """Names of the stack's job services with these labels."""
        filters = [a for label in (f'singa.swarm.stack={self.stack}', *labels) for a in ('--filter', f'label={label}')]
        return self.swarm('service', 'ls', *filters, '--format', '{{.Name}}').split()

    def tasks(self, service: str) -> list:
        """The service's tasks, newest first: dicts with node (hostname), state, desired, slot."""
        out = self.swarm('service', 'ps', '--no-trunc', '--format', '{{json .}}', service, check=False)
        tasks = []
        for line in out.splitlines():
            task = json.loads(line)
            tasks.append({'node': task['Node'], 'state': task['CurrentState'].split()[0].lower(),
                          'desired': task['DesiredState'].lower(), 'name': task['Name'], 'id': task['ID']})
        return tasks

    def node_of_running(self, service: str) -> list:
        """Hostnames of the nodes where the service's tasks run now."""
        return sorted(t['node'] for t in self.tasks(service) if t['state'] == 'running' and t['desired'] == 'running')

    def node_state(self, name: str) -> str:
        return self.swarm('node', 'inspect', '--format', '{{.Status.State}}', name, check=False).strip()

    def client(self, email: str = 'superadmin@singaauto', password: Optional[str] = None) -> Client:
        client = Client(admin_host=self.manager.ip, admin_port=ADMIN_PORT)
        client.login(email, password or self.password)
        return client


def _each(step, nodes: list) -> None:
    """``step(node)`` for every node, side by side; the first failure is raised."""
    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        for done in [pool.submit(step, node) for node in nodes]:
            done.result()

