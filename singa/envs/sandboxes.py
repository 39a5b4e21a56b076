"""Where the untrusted part of building an environment runs: the admin's template sandbox.

Two things happen there, never in the admin's own process: describing the platform the template
will run on (``python -s -m singa.envs.describe``: what the sandbox's interpreter has), and
installing the downloaded wheels (``pip install --no-index``), with no network, the wheelhouse
read-only and the new environment's directory the only thing writable.

- ``ProcessEnvSandbox``: a ``singa.sandbox`` sandbox (bubblewrap's namespaces in process mode):
  the wheelhouse is bound at ``/wheels``, the environment at ``/env``, where model code later
  sees it too.
- ``ContainerEnvSandbox``: a throwaway container of the worker image (``DockerSandbox``, Swarm
  mode): the wheelhouse is copied in, the environment copied out when pip has succeeded and
  unpacked here with ``extract_tree`` (regular files and directories only, inside the target,
  within a size limit), so nothing of the host is ever mounted into it.

``env_sandbox_for(check_sandbox)`` gives the one that matches the admin's template check. The
platform's description is kept per sandbox kind (per image id for containers).
"""
import abc
import json
import os
import tarfile
import tempfile
import threading
from typing import Optional

from singa.envs.pip import install_args
from singa.envs.platform import PlatformFacts
from singa.errors import InvalidModelError, SingaError
from singa.sandbox.base import SandboxLimits, SandboxRun

FACTS_TIMEOUT = 60.0
FACTS_LIMITS = SandboxLimits(memory_mb=1024, max_pids=32, tmp_mb=64, threads=1)
WHEELS_TARGET = '/wheels'
_FACTS: dict = {}
_FACTS_LOCK = threading.Lock()


class EnvSandbox(abc.ABC):
    """Describes the platform templates run on, and installs wheels for it offline."""

    @abc.abstractmethod
    def facts(self, image: Optional[str] = None) -> PlatformFacts:
        """What the template's interpreter has (``image``: the container image it runs in)."""

    @abc.abstractmethod
    def install(self, wheelhouse: str, prefix: str, requirements: list, limits: SandboxLimits, timeout: float,
                image: Optional[str] = None) -> SandboxRun:
        """Run stage 2 (``singa.envs.pip.install_args``): fill the empty directory ``prefix``."""


class ProcessEnvSandbox(EnvSandbox):
    def __init__(self, sandbox):
        self.sandbox = sandbox

    def facts(self, image: Optional[str] = None) -> PlatformFacts:
        return _cached(('process', self.sandbox.name), lambda: _facts_of(self.sandbox.run(
            ['-m', 'singa.envs.describe'], FACTS_LIMITS, timeout=FACTS_TIMEOUT)))

    def install(self, wheelhouse, prefix, requirements, limits, timeout, image=None) -> SandboxRun:
        from singa.sandbox.bubblewrap import ENV_TARGET
        wheels, env = (WHEELS_TARGET, ENV_TARGET) if self.sandbox.private_paths else (wheelhouse, prefix)
        return self.sandbox.run(install_args(wheels, env, requirements), limits, binds={wheels: wheelhouse},
                                writable={env: prefix}, timeout=timeout)


class ContainerEnvSandbox(EnvSandbox):
    def __init__(self, docker_sandbox):
        self.docker = docker_sandbox

    def facts(self, image: Optional[str] = None) -> PlatformFacts:
        return _cached(('container', self.docker.image_id(image)), lambda: _facts_of(self.docker.run(
            ['-m', 'singa.envs.describe'], {}, FACTS_TIMEOUT, FACTS_LIMITS.memory_mb, image)))

    def install(self, wheelhouse, prefix, requirements, limits, timeout, image=None) -> SandboxRun:
        workdir = self.docker.WORKDIR
        with tempfile.TemporaryDirectory(prefix='singa-env-') as tmp:
            archive = os.path.join(tmp, 'env.tar')
            run = self.docker.run(install_args(f'{workdir}/wheels', f'{workdir}/env', requirements), {}, timeout,
                                  limits.memory_mb, image, dirs={'wheels': wheelhouse}, output=('env', archive))
            if run.exit_code == 0:
                extract_tree(archive, 'env', prefix, limits.tmp_mb << 20)
        return run


def env_sandbox_for(check_sandbox) -> EnvSandbox:
    """The environment sandbox of the admin's template check (``singa.model.inspect``)."""
    from singa.model.inspect import RunnerCheck
    if isinstance(check_sandbox, RunnerCheck):
        return ProcessEnvSandbox(check_sandbox.sandbox)
    return ContainerEnvSandbox(check_sandbox)


def _cached(key: tuple, describe) -> PlatformFacts:
    with _FACTS_LOCK:
        facts = _FACTS.get(key)
    if facts is None:
        facts = describe()
        with _FACTS_LOCK:
            _FACTS[key] = facts
    return facts


def _facts_of(run: SandboxRun) -> PlatformFacts:
    lines = run.stdout.decode('utf-8', 'replace').strip().splitlines()
    if run.exit_code != 0 or not lines:
        tail = run.stderr.decode('utf-8', 'replace').strip()[-500:]
        raise SingaError(f'the sandbox could not describe the platform (exit code {run.exit_code}): {tail}')
    try:
        return PlatformFacts.from_dict(json.loads(lines[-1]))
    except ValueError:
        raise SingaError('the platform description from the sandbox is not JSON') from None


def extract_tree(archive: str, top: str, dest: str, max_bytes: int) -> None:
    """Unpack the members under ``top/`` of the tar ``archive`` into the directory ``dest``:
    regular files and directories only, none outside ``dest``, at most ``max_bytes`` in all;
    ``InvalidModelError`` otherwise (the archive came out of a sandbox)."""
    try:
        _extract(archive, top, dest, max_bytes)
    except (OSError, tarfile.TarError) as e:
        raise InvalidModelError(f'the installed packages cannot be unpacked: {e}', field='dependencies') from None


def _extract(archive: str, top: str, dest: str, max_bytes: int) -> None:
    total = 0
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = [p for p in member.name.split('/') if p not in ('', '.')]
            if not parts or parts[0] != top:
                continue
            if '..' in parts or not (member.isfile() or member.isdir()):
                raise InvalidModelError(f'the installed packages hold {member.name!r}, which is not a plain file '
                                        'or directory inside the environment', field='dependencies')
            path = os.path.join(dest, *parts[1:])
            if member.isdir():
                os.makedirs(path, mode=0o755, exist_ok=True)
                continue
            total += member.size
            if total > max_bytes:
                raise InvalidModelError(f'the installed packages are over {max_bytes >> 20} MiB',
                                        field='dependencies')
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            source = tar.extractfile(member)
            with open(path, 'xb') as f:
                while True:
                    chunk = source.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
            os.chmod(path, 0o755 if member.mode & 0o111 else 0o644)
