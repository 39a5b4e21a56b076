"""A real platform started the way users start it (``singa up`` in a data directory of its own),
with helpers to make users, to find what an attacker would go after (secrets, ports, stored
files, the model code's processes) and to kill its parts as a crash would (``kill -9``)."""
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
from typing import Optional
import time

from singa.client import Client, RetryPolicy
from singa.container.process_files import group_alive, proc_start_time, process_table
from singa.local.servers import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREE = os.path.join(REPO, 'examples', 'models', 'sk_decision_tree.py')
PASSWORD = 'a-long-test-password-1'


def _field(output: str, name: str) -> str:
    return re.search(rf'^\s+{name}:\s+(\S+)$', output, re.M).group(1)


class LocalStack:
    """``singa up`` in a data directory of its own, and what an attacker would aim at in it."""

    def __init__(self, data_dir: str, **settings):
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith('SINGA_')}
        self.env.update(SINGA_DATA_DIR=data_dir, SINGA_ADMIN_PORT=str(free_port()), SINGA_ADMIN_WORKERS='1',
                        **{f'SINGA_{k.upper()}': str(v) for k, v in settings.items()})

    def singa(self, *args, timeout=180) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, '-m', 'singa.cli', *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def up(self) -> str:
        """Start it; what ``singa up`` printed."""
        done = self.singa('up')
        assert done.returncode == 0, f'{done.stderr}\n--- postgres.log:\n{self._tail("postgres", "postgres.log")}'
        self.url = _field(done.stdout, 'admin')
        self.superadmin = (_field(done.stdout, 'superadmin'), _field(done.stdout, 'password'))
        return done.stdout + done.stderr

    def _tail(self, *parts) -> str:
        try:
            with open(self.path(*parts), encoding='utf-8', errors='replace') as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    def down(self) -> None:
        self.singa('down', '--purge')

    def client(self, email: str, password: str, retry: Optional[RetryPolicy] = None) -> Client:
        host, port = self.url.rsplit('//', 1)[1].rsplit(':', 1)
        client = Client(admin_host=host, admin_port=int(port), retry=retry)
        client._session.headers['Connection'] = 'close'    # no kept-alive connection the server may drop
        client.login(email, password)
        return client

    def user(self, name: str, user_type: str = 'MODEL_DEVELOPER') -> Client:
        admin = self.client(*self.superadmin)
        email = f'{name}@example.com'
        admin.create_user(email, PASSWORD, user_type)
        return self.client(email, PASSWORD)

    # -- what there is to steal ------------------------------------------------------------------
    def path(self, *parts) -> str:
        return os.path.join(self.data_dir, *parts)

    def secrets(self) -> dict:
        found = {}
        for name in ('token_secret', 'superadmin_password', 'postgres/password', 'redis/password'):
            with open(self.path(name), encoding='utf-8') as f:
                found[name] = f.read().strip()
        return found

    def admin_pid(self) -> int:
        with open(self.path('admin', 'process.json'), encoding='utf-8') as f:
            return int(json.load(f)['pid'])

    def ports(self) -> dict:
        ports = {'admin': int(self.url.rsplit(':', 1)[1])}
        with open(self.path('redis', 'redis.conf'), encoding='utf-8') as f:
            ports['redis'] = int(re.search(r'^port (\d+)$', f.read(), re.M).group(1))
        with open(self.path('postgres', 'port'), encoding='utf-8') as f:
            ports['postgres'] = int(f.read().strip())
        return ports

    def storage_files(self, kind: str) -> list:
        return sorted(p for p in glob.glob(self.path('storage', kind, '**', '*'), recursive=True) if os.path.isfile(p))

    def file_hashes(self) -> dict:
        """SHA-256 of every stored template, dataset and parameter file."""
        return {p: hashlib.sha256(open(p, 'rb').read()).hexdigest()
                for kind in ('models', 'data', 'params') for p in self.storage_files(kind)}


    # -- killing its parts ------------------------------------------------------------------------
    def service_tasks(self, service_type: str, job_id: str = None) -> list:
        """(pid, task id) of the running replicas of the process-mode services of a type (of one job)."""
        found = []
        for spec_path in sorted(glob.glob(self.path('services', '*', 'spec.json'))):
            with open(spec_path, encoding='utf-8') as f:
                spec = json.load(f)
            if spec['service_type'] != service_type or (job_id and spec['labels'].get('singa.job_id') != job_id):
                continue
            try:
                with open(os.path.join(os.path.dirname(spec_path), 'state.json'), encoding='utf-8') as f:
                    state = json.load(f)
            except (OSError, ValueError):
                continue
            found += [(r['process']['pid'], r.get('task')) for r in state.get('replicas', [])
                      if r.get('state') == 'running' and r.get('process')]
        return found

    def kill_admin(self) -> None:
        """kill -9 the admin: its gunicorn master and workers (they share its process group)."""
        pid = self.admin_pid()
        os.killpg(pid, signal.SIGKILL)
        assert wait_until(lambda: not group_alive(pid), 10), 'the admin survived SIGKILL'

    def kill_redis(self, lose_data: bool = False) -> None:
        """kill -9 Redis; with ``lose_data`` its append-only file goes too (a Redis that comes back
        empty, as one without persistence would)."""
        with open(self.path('redis', 'redis.pid'), encoding='utf-8') as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        if lose_data:
            time.sleep(0.2)
            for name in os.listdir(self.path('redis')):
                if name.startswith('appendonly') or name.endswith('.rdb'):
                    target = self.path('redis', name)
                    shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)

    def kill_postgres(self) -> None:
        """kill -9 PostgreSQL: the postmaster and every backend (a crash of the database server)."""
        with open(self.path('postgres', 'pgdata', 'postmaster.pid'), encoding='utf-8') as f:
            postmaster = int(f.readline().strip())
        victims = [postmaster] + _children(postmaster)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Gone, not just signalled: a new postmaster refuses to start beside old backends.
        assert wait_until(lambda: not any(proc_start_time(pid) for pid in victims), 10), 'PostgreSQL survived SIGKILL'


def _children(parent: int) -> list:
    return [pid for pid, fields in process_table() if int(fields[1]) == parent]


def sandbox_processes(stack: 'LocalStack') -> list:
    """Live processes of the sandbox user started by ``stack`` (model code, or what it left
    behind): those with the stack's admin or one of its services' supervisors among their
    ancestors (other stacks on this machine have their own)."""
    try:
        uid = pwd.getpwnam('singa-sandbox').pw_uid
    except KeyError:
        return []
    table = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/status', encoding='ascii') as f:
                status = f.read()
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read().decode(errors='replace')
        except OSError:
            continue
        table[int(entry)] = (int(re.search(r'^PPid:\s+(\d+)', status, re.M).group(1)),
                             int(re.search(r'^Uid:\s+(\d+)', status, re.M).group(1)),
                             re.search(r'^State:\s+(\S)', status, re.M).group(1), cmdline)
    admin = stack.admin_pid()

    def ours(pid: int) -> bool:
        while pid in table and pid > 1:
            ppid, _, _, cmdline = table[pid]
            if pid == admin or stack.data_dir in cmdline:
                return True
            pid = ppid
        return False

    return sorted(pid for pid, (_, real_uid, state, _) in table.items()
                  if real_uid == uid and state not in 'ZX' and ours(pid))


def wait_until(condition, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(interval)
