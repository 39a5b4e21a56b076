"""Template environments on the shared storage: ``<storage>/envs/<key>/``.

An environment is a pip ``--prefix`` directory holding what a set of requirements adds to one
platform (``lib/python3.11/site-packages/...``), plus ``env.json``, written by the admin, which
says what it is (its key, the interpreter it was built for, its site directories relative to the
directory, the packages in it). Environments are built in ``envs/.build/`` and renamed into
place whole, with ``env.json`` already in them: a directory ``envs/<key>/`` with an ``env.json``
is complete, and nothing else is ever used. ``envs/.locks/<key>.lock`` serialises the builds of
one key across the admin's processes, so concurrent uploads of the same set build it once.

The key is the SHA-256 of the normalised requirements and of the platform they are added to
(``PlatformFacts``: Python version, wheel tag, every installed package and its version): the same
set on the same platform is one environment, shared by every template that declares it; another
platform (an upgraded package, another worker image) gets an environment of its own.
"""
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import time
from typing import Optional

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from singa.envs.platform import PlatformFacts
from singa.errors import InvalidModelError, ServiceUnavailableError

ENVS_DIR = 'envs'
MARKER = 'env.json'
BUILD_DIR = '.build'
LOCKS_DIR = '.locks'
_KEY = re.compile(r'^[0-9a-f]{64}$')
LOCK_POLL_SECONDS = 0.2


def normalised_requirements(requirements: list) -> list:
    """Requirements in one canonical spelling (names canonicalised, extras and specifiers
    sorted), sorted and without repeats: two spellings of a set give one key."""
    found = set()
    for text in requirements:
        requirement = Requirement(text)
        extras = ','.join(sorted(canonicalize_name(e) for e in requirement.extras))
        found.add(canonicalize_name(requirement.name) + (f'[{extras}]' if extras else '')
                  + ','.join(sorted(str(s) for s in requirement.specifier)))
    return sorted(found)


def env_key(requirements: list, facts: PlatformFacts) -> str:
    text = json.dumps({'requirements': normalised_requirements(requirements), 'platform': facts.to_dict()},
                      sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class TemplateEnv:
    """A complete environment: its ``key``, its directory ``path`` (as this process sees it), its
    site-packages directories relative to ``path``, and the Python it was built for."""
    key: str
    path: str
    sites: tuple
    python: str


class EnvStore:
    def __init__(self, storage_dir: str):
        self.root = os.path.join(storage_dir, ENVS_DIR)

    def path(self, key: str) -> str:
        if not isinstance(key, str) or not _KEY.match(key):
            raise InvalidModelError(f'{key!r} is not the key of a template environment')
        return os.path.join(self.root, key)

    def find(self, key: str) -> Optional[TemplateEnv]:
        """The complete environment ``key``, or None."""
        path = self.path(key)
        try:
            with open(os.path.join(path, MARKER), encoding='utf-8') as f:
                info = json.load(f)
            sites = tuple(info['sites'])
            if info['key'] != key or not all(isinstance(s, str) and _inside(path, s) for s in sites):
                return None
            return TemplateEnv(key, path, sites, str(info['python']))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def get(self, key: str) -> TemplateEnv:
        """The environment ``key`` for a worker that runs on this interpreter; ``InvalidModelError``
        if it is missing, incomplete or built for another Python."""
        env = self.find(key)
        if env is None:
            raise InvalidModelError(f'the environment of the template\'s dependencies ({key[:12]}) is missing or '
                                    'incomplete on the shared storage: upload the template again')
        here = f'{sys.version_info[0]}.{sys.version_info[1]}'
        if env.python != here:
            raise InvalidModelError(f'the environment of the template\'s dependencies was built for Python '
                                    f'{env.python}; this worker runs Python {here}: upload the template again')
        return env

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float):
        """Hold the build lock of ``key`` (``ServiceUnavailableError`` after ``timeout`` seconds)."""
        directory = os.path.join(self.root, LOCKS_DIR)
        os.makedirs(directory, exist_ok=True)
        fd = os.open(os.path.join(directory, f'{os.path.basename(self.path(key))}.lock'), os.O_RDWR | os.O_CREAT,
                     0o600)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise ServiceUnavailableError('another upload is still installing the same dependencies; '
                                                      'try again later', resource='model') from None
                    time.sleep(LOCK_POLL_SECONDS)
            yield
        finally:
            os.close(fd)

    def work_dir(self, key: str) -> str:
        """A fresh directory to build ``key`` in (call with its lock held: earlier, unfinished
        builds of the key are removed)."""
        build = os.path.join(self.root, BUILD_DIR)
        os.makedirs(build, exist_ok=True)
        for name in os.listdir(build):
            if name.startswith(key + '-'):
                shutil.rmtree(os.path.join(build, name), ignore_errors=True)
        path = os.path.join(build, f'{key}-{secrets.token_hex(4)}')
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)
        return path

    def publish(self, key: str, prefix: str, info: dict) -> TemplateEnv:
        """Write ``env.json`` into the built ``prefix`` and move it into place (with the lock held)."""
        with open(os.path.join(prefix, MARKER), 'w', encoding='utf-8') as f:
            json.dump(dict(info, key=key), f, indent=1, sort_keys=True)
        os.chmod(os.path.join(prefix, MARKER), 0o644)
        target = self.path(key)
        if os.path.lexists(target):            # never complete (that was checked under the lock)
            shutil.rmtree(target, ignore_errors=True)
        os.rename(prefix, target)
        env = self.find(key)
        if env is None:
            raise InvalidModelError('the template environment was built but cannot be read back')
        return env


def template_env(storage_dir: str, key: Optional[str]) -> Optional[TemplateEnv]:
    """A worker's environment for its template (None when the template has none)."""
    return EnvStore(storage_dir).get(key) if key else None


def _inside(root: str, relative: str) -> bool:
    path = os.path.normpath(os.path.join(root, relative))
    return not os.path.isabs(relative) and path.startswith(os.path.normpath(root) + os.sep)
