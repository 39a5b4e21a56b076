"""How containers see the shared storage (for managers that mount it: Swarm).

Every worker that needs storage sees its root at ``STORAGE_TARGET`` (``/storage``), and the
datasets directory again, read-only, at ``/storage/data``: a worker runs user code, which may
write trained parameters and logs but never change a dataset. (The admin, which stores uploads,
mounts the root alone, read-write.) Where the files come from:

- **a host directory** (``SINGA_STORAGE_VOLUME=/abs/path``; when unset, the admin's own
  ``SINGA_STORAGE_DIR``): bind mounts of the directory and of its ``data/``. Every node that runs
  workers must have the same files at that path: one node, or a shared file system the hosts
  mount there themselves.
- **NFS** (``SINGA_NFS_SERVER`` and ``SINGA_NFS_PATH``): Docker volumes of the ``local`` driver
  with ``type=nfs`` options, named ``SINGA_STORAGE_VOLUME`` (default ``<stack>-storage``) and
  ``<that>-data``. Swarm gives each task the volume spec, so every node mounts the export itself
  when a task lands there; nothing has to be prepared on the nodes but an NFS client.

Workers that run model code get less: ``job_mounts`` gives them exactly their job's files (the
template and datasets read-only, the parameter folder of their sub-job writable) where the storage
is a host directory. Every job service also gets its own log file (``log_mounts``), and only that. Docker's ``local`` volumes (API 1.41) cannot mount part of an NFS export, so
with NFS volumes those workers still get the whole storage (datasets read-only).

Nothing here talks to Docker, so the options are unit-tested on machines without NFS.
"""
import os
import posixpath
import re

from singa.container.base import Mount
from singa.errors import ConfigError

STORAGE_TARGET = '/storage'
DATA_DIR = 'data'                     # datasets, under the storage root
LOGS_DIR = 'logs'                     # the components' logs: logs/<job id>/, logs/platform/
PLATFORM_LOGS = 'platform'            # the admin's, under LOGS_DIR
_HOST = re.compile(r'^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*|[0-9A-Fa-f:.]+)$')
_OPTION = re.compile(r'^[A-Za-z0-9_]+(=[A-Za-z0-9_.:/-]+)?$')
_VOLUME_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


def uses_nfs(settings) -> bool:
    if bool(settings.nfs_server) != bool(settings.nfs_path):
        raise ConfigError('set both SINGA_NFS_SERVER and SINGA_NFS_PATH for NFS storage, or neither')
    return bool(settings.nfs_server)


def nfs_volume_options(server: str, path: str, extra: str = 'nfsvers=4', read_only: bool = False) -> dict:
    """Driver options of a ``local`` Docker volume that mounts ``server:path`` over NFS.

    Equivalent to ``docker volume create --driver local --opt type=nfs --opt o=addr=SERVER,... --opt
    device=:PATH``. Values are checked so that none can smuggle in another mount option.
    """
    if not _HOST.match(server or ''):
        raise ConfigError(f'SINGA_NFS_SERVER must be a host name or IP address; got {server!r}')
    if not path.startswith('/') or not _clean_path(path):
        raise ConfigError(f'SINGA_NFS_PATH must be an absolute path without commas or spaces; got {path!r}')
    options = [o for o in (extra or '').split(',') if o]
    for option in options:
        if not _OPTION.match(option) or option.split('=', 1)[0] in ('addr', 'ro', 'rw'):
            raise ConfigError(f'SINGA_NFS_OPTIONS must be comma-separated NFS options (addr, ro and rw '
                              f'are set by SingaAuto); got {extra!r}')
    mode = 'ro' if read_only else 'rw'
    return {'type': 'nfs', 'o': ','.join([f'addr={server}', mode, *options]), 'device': f':{path}'}


def storage_volume_name(settings) -> str:
    """The NFS volume's name: ``SINGA_STORAGE_VOLUME`` or ``<stack>-storage``."""
    name = settings.storage_volume or f'{settings.stack_name}-storage'
    if not _VOLUME_NAME.match(name):
        raise ConfigError(f'with NFS storage, SINGA_STORAGE_VOLUME names the Docker volume; {name!r} is '
                          'not a valid volume name')
    return name


def storage_host_dir(settings) -> str:
    """The host directory that holds the storage (when it is not NFS)."""
    path = settings.storage_volume or settings.storage_dir
    if not os.path.isabs(path) or not _clean_path(path):
        raise ConfigError(f'SINGA_STORAGE_VOLUME must be an absolute host path (or use NFS: set '
                          f'SINGA_NFS_SERVER and SINGA_NFS_PATH); got {path!r}')
    return posixpath.normpath(path)


def storage_mounts(settings, read_only: bool = False) -> tuple:
    """The mounts that give a worker the storage at ``/storage`` with ``/storage/data`` read-only
    (everything read-only when ``read_only``)."""
    data_target = posixpath.join(STORAGE_TARGET, DATA_DIR)
    if uses_nfs(settings):
        volume = storage_volume_name(settings)
        data_path = posixpath.join(settings.nfs_path, DATA_DIR)
        return (Mount(volume, STORAGE_TARGET, read_only, nfs_volume_options(
                    settings.nfs_server, settings.nfs_path, settings.nfs_options, read_only)),
                Mount(f'{volume}-{DATA_DIR}', data_target, True, nfs_volume_options(
                    settings.nfs_server, data_path, settings.nfs_options, True)))
    root = storage_host_dir(settings)
    return (Mount(root, STORAGE_TARGET, read_only),
            Mount(posixpath.join(root, DATA_DIR), data_target, True))


def _clean_path(path: str) -> bool:
    return not re.search(r'[\s,]', path)


def job_log_dir(job_id) -> str:
    """Where the logs of a job's services go, relative to the storage root."""
    return posixpath.join(LOGS_DIR, str(job_id))


def file_stem(name: str) -> str:
    """``name`` made safe as a file name: the stem of a service's log files, ``<stem>-<replica>.log``
    (the same for every manager)."""
    return re.sub(r'[^A-Za-z0-9_.-]', '-', str(name)).lstrip('.-')[:60] or 'service'


def relative_path(relative: str) -> str:
    """``relative`` normalised, refused unless it is a plain path inside the storage."""
    clean = posixpath.normpath(relative or '')
    if clean.startswith(('/', '..')) or clean == '.' or not _clean_path(clean):
        raise ConfigError(f'a job file must be a plain path inside the storage; got {relative!r}')
    return clean


def job_mounts(settings, read_only: list, writable: list) -> tuple:
    """Mounts of exactly the given storage paths (relative to the storage root), each at
    ``/storage/<path>``: ``read_only`` files and ``writable`` directories. With NFS volumes, the
    whole storage instead (see the module docstring)."""
    if uses_nfs(settings):
        return storage_mounts(settings)
    root = storage_host_dir(settings)
    mounts = []
    for relative, ro in [(r, True) for r in read_only] + [(w, False) for w in writable]:
        clean = relative_path(relative)
        mounts.append(Mount(posixpath.join(root, clean), posixpath.join(STORAGE_TARGET, clean), ro))
    return tuple(mounts)


def log_mounts(settings, log_file: str, mounts) -> tuple:
    """What a container needs, besides ``mounts``, to write ``log_file`` (relative to the storage
    root; it may hold a template such as ``{{.Task.Slot}}``): a bind mount of that one file where
    the storage is a host directory, so that the service can write no other log; the whole
    storage with NFS volumes, unless ``mounts`` have it already."""
    if uses_nfs(settings):
        return () if any(m.target == STORAGE_TARGET for m in mounts) else storage_mounts(settings)[:1]
    path = posixpath.join(storage_host_dir(settings), log_file)
    return (Mount(path, posixpath.join(STORAGE_TARGET, log_file)),)
