"""``prepare_env``: the environment a template's declared dependencies need, built at upload.

1. The template's sandbox describes the platform (``EnvSandbox.facts``). A requirement that the
   version of a package the platform ships does not satisfy is refused at once (it would replace
   that package); requirements the platform already satisfies need nothing.
2. The environment's key (``singa.envs.store.env_key``) names it: if it is on the storage, it is
   shared as it is; otherwise it is built, under the key's lock, once:
3. ``singa.envs.pip.download`` fetches the wheels (trusted, with the network), the platform's own
   are dropped, and ``EnvSandbox.install`` installs the rest in the sandbox, offline, into a
   fresh prefix. The admin then settles the prefix (plain files and directories only, owned by
   itself, read-only to everyone else, within ``SINGA_DEPENDENCY_MAX_MB``), records what it is
   and moves it into place.

Any failure is an ``InvalidModelError`` (a 400) that carries pip's reason.
"""
import datetime
import logging
import os
import shutil
import stat
import threading
import time
from typing import Optional

from singa.envs import pip
from singa.envs.platform import conflicts, unmet
from singa.envs.sandboxes import env_sandbox_for
from singa.envs.store import EnvStore, TemplateEnv, env_key, normalised_requirements
from singa.errors import InvalidModelError, ServiceUnavailableError
from singa.sandbox.base import SandboxLimits

log = logging.getLogger(__name__)

WHEELHOUSE_DIR = 'wheelhouse'          # <storage>/wheelhouse: wheels pip may also take (offline sites)
MAX_CONCURRENT_BUILDS = 2              # per admin process; more wait briefly, then get a 503
BUILD_QUEUE_SECONDS = 1.0
INSTALL_MAX_PIDS = 64
OUT_OF_TIME = 'installing the dependencies ran out of time (SINGA_DEPENDENCY_TIMEOUT)'
_BUILDS = threading.BoundedSemaphore(MAX_CONCURRENT_BUILDS)
MB = 1 << 20


def prepare_env(settings, requirements: list, check_sandbox, image: Optional[str] = None) -> Optional[TemplateEnv]:
    """The environment ``requirements`` need on top of the platform the template runs on (the one
    ``check_sandbox`` checks it in; ``image`` for containers), built if it is not there yet; None
    when the platform satisfies them all."""
    if not requirements:
        return None
    sandbox = env_sandbox_for(check_sandbox)
    facts = sandbox.facts(image)
    replaced = conflicts(requirements, facts)
    if replaced:
        text, name, version = replaced[0]
        raise InvalidModelError(f'{text!r} would replace {name} {version}, which the platform ships: a template '
                                'cannot replace or downgrade the platform\'s packages (leave the version out, or '
                                f'ask for one that {name} {version} satisfies)', field=pip.FIELD)
    if not unmet(requirements, facts):
        return None
    key = env_key(requirements, facts)
    store = EnvStore(settings.storage_dir)
    env = store.find(key)
    if env is not None:
        return env
    if not _BUILDS.acquire(timeout=BUILD_QUEUE_SECONDS):
        raise ServiceUnavailableError(f'{MAX_CONCURRENT_BUILDS} dependency installations are already running in this '
                                      'admin process; try again in a minute', resource='model')
    try:
        with store.lock(key, settings.dependency_timeout):
            env = store.find(key)
            if env is None:
                env = _build(settings, store, key, requirements, facts, sandbox, image)
    finally:
        _BUILDS.release()
    return env


def _build(settings, store: EnvStore, key: str, requirements: list, facts, sandbox, image) -> TemplateEnv:
    deadline = time.monotonic() + settings.dependency_timeout
    max_bytes = settings.dependency_max_mb * MB
    work = store.work_dir(key)
    wheels, prefix, scratch = (os.path.join(work, name) for name in ('wheels', 'env', 'tmp'))
    try:
        for path in (wheels, prefix, scratch):
            os.mkdir(path, 0o755)
            os.chmod(path, 0o755)
        local = os.path.join(settings.storage_dir, WHEELHOUSE_DIR)
        pip.download(requirements, facts, wheels, scratch, _left(deadline), max_bytes,
                     find_links=[local] if os.path.isdir(local) else [])
        pip.drop_platform_wheels(wheels, facts)
        size = _settle(wheels, max_bytes, 'the wheels of the dependencies')
        limits = SandboxLimits(memory_mb=settings.model_check_memory_mb, max_pids=INSTALL_MAX_PIDS,
                               tmp_mb=settings.dependency_max_mb, cpu_seconds=int(_left(deadline)) + 1, threads=1)
        run = sandbox.install(wheels, prefix, requirements, limits, _left(deadline), image)
        if run.exit_code is None:
            raise InvalidModelError(OUT_OF_TIME, field=pip.FIELD)
        if run.out_of_memory:
            raise InvalidModelError(f'installing the dependencies used more than {limits.memory_mb} MiB of memory',
                                    field=pip.FIELD)
        if run.exit_code != 0:
            raise InvalidModelError('the dependencies cannot be installed: ' + pip.reason(run.stdout + run.stderr),
                                    field=pip.FIELD)
        _settle(prefix, max_bytes, 'the installed dependencies')
        sites, packages = _contents(prefix)
        env = store.publish(key, prefix, {
            'python': facts.python, 'tag': facts.tag, 'requirements': normalised_requirements(requirements),
            'sites': sites, 'packages': packages, 'wheel_bytes': size,
            'built_at': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')})
        log.info('built the template environment %s (%s) in %.1f s', key, ' '.join(packages),
                 settings.dependency_timeout - (deadline - time.monotonic()))
        return env
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise InvalidModelError(OUT_OF_TIME, field=pip.FIELD)
    return left


def _settle(root: str, max_bytes: int, what: str) -> int:
    """Make ``root`` this process's and read-only to others (directories 0755, files 0644 or
    0755), refusing anything but plain files and directories and more than ``max_bytes``; its size."""
    total, owner = 0, (os.getuid(), os.getgid())
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                raise InvalidModelError(f'{what} hold {os.path.relpath(path, root)!r}, which is not a plain file or '
                                        'directory', field=pip.FIELD)
            total += st.st_size
            if total > max_bytes:
                raise InvalidModelError(f'{what} are over {max_bytes >> 20} MiB (SINGA_DEPENDENCY_MAX_MB)',
                                        field=pip.FIELD)
            if (st.st_uid, st.st_gid) != owner:
                os.lchown(path, *owner)
            executable = stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111
            os.chmod(path, 0o755 if executable else 0o644)
    if (os.stat(root).st_uid, os.stat(root).st_gid) != owner:
        os.chown(root, *owner)
    os.chmod(root, 0o755)
    return total


def _contents(prefix: str) -> tuple[list, list]:
    """(site directories relative to ``prefix``: those holding ``.dist-info`` folders, and the
    installed packages as ``name==version``)."""
    sites, packages = set(), []
    for directory, dirs, _ in os.walk(prefix):
        for name in dirs:
            if name.endswith('.dist-info'):
                sites.add(os.path.relpath(directory, prefix))
                packages.append('=='.join(name[:-len('.dist-info')].split('-', 1)))
    return sorted(sites), sorted(packages)
