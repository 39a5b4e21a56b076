"""``singa up`` / ``singa status`` / ``singa down``, run as the real command in subprocesses.

The stack serves the real admin (``singa.admin.app:create_app()``).
"""
import json
import os
import re
import subprocess
import sys

import pytest
import requests

from singa.config import Settings
from singa.container.base import ServiceSpec
from singa.container.local_process import ProcessContainerManager
from singa.container.process_files import ProcessRef
from singa.local.servers import free_port



def _env(data_dir, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith('SINGA_')}
    env.update(SINGA_DATA_DIR=str(data_dir), SINGA_ADMIN_PORT=str(free_port()), SINGA_ADMIN_WORKERS='1')
    env.update(extra)
    return env


def singa(env, *args, timeout=120):
    return subprocess.run([sys.executable, '-m', 'singa.cli', *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def _field(output, name):
    return re.search(rf'^\s+{name}:\s+(\S+)$', output, re.M).group(1)


def processes_under(path):
    """Pids of live processes whose working directory or command line is inside ``path``."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                if f.read().rsplit(')', 1)[1].split()[0] == 'Z':
                    continue
            cwd = os.readlink(f'/proc/{entry}/cwd')
            with open(f'/proc/{entry}/cmdline', 'rb') as f:
                cmdline = f.read().decode(errors='replace')
        except OSError:
            continue
        if cwd.startswith(str(path)) or str(path) in cmdline:
            found.append(int(entry))
    return found


@pytest.fixture
def stack_env(tmp_path):
    env = _env(tmp_path / 'singa')
    yield env
    singa(env, 'down')


def test_up_is_idempotent_and_down_leaves_nothing_running(stack_env, tmp_path):
    data_dir = tmp_path / 'singa'
    first = singa(stack_env, 'up')
    assert first.returncode == 0, first.stderr
    url, email, password = (_field(first.stdout, n) for n in ('admin', 'superadmin', 'password'))
    assert url == f"http://127.0.0.1:{stack_env['SINGA_ADMIN_PORT']}"
    assert email == 'superadmin@singaauto' and len(password) >= 24
    assert _field(first.stdout, 'data dir') == str(data_dir)
    for secret in ('token_secret', 'superadmin_password'):
        assert os.stat(data_dir / secret).st_mode & 0o777 == 0o600
    assert (data_dir / 'superadmin_password').read_text() == password
    health = requests.get(f'{url}/health', timeout=5)
    assert health.status_code == 200 and health.json()
    assert requests.post(f'{url}/tokens', json={'email': email, 'password': password}, timeout=5).ok

    status = singa(stack_env, 'status', '--json')
    assert status.returncode == 0, status.stdout
    components = {c['name']: c for c in json.loads(status.stdout)['components']}
    assert all(c['running'] and c['pid'] for c in components.values())
    admin_pid = components['admin']['pid']

    second = singa(stack_env, 'up')
    assert second.returncode == 0, second.stderr
    assert 'already up' in second.stdout
    assert (_field(second.stdout, 'admin'), _field(second.stdout, 'password')) == (url, password)
    again = {c['name']: c for c in json.loads(singa(stack_env, 'status', '--json').stdout)['components']}
    assert again['admin']['pid'] == admin_pid

    # A job's service, as the admin would start it, with a child process of its own.
    manager = ProcessContainerManager(Settings.from_env(stack_env))
    service = manager.create_service(ServiceSpec(
        name='train-worker', service_type='TRAIN', environment={},
        command=['-c', 'import subprocess, sys, time\n'
                       'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])\n'
                       'time.sleep(600)']))
    replica = ProcessRef.from_dict(manager.replica_states(service)[0]['process'])
    assert 'services  1 (1 RUNNING)' in singa(stack_env, 'status').stdout

    down = singa(stack_env, 'down')
    assert down.returncode == 0, down.stderr
    assert 'destroyed 1 service(s)' in down.stdout
    assert not replica.alive()
    assert processes_under(data_dir) == []
    after = singa(stack_env, 'status')
    assert after.returncode == 3 and 'down' in after.stdout
    assert singa(stack_env, 'down').returncode == 0           # nothing to stop is fine

    purge = singa(stack_env, 'down', '--purge')
    assert purge.returncode == 0 and not data_dir.exists()


def test_up_keeps_a_given_superadmin_password(tmp_path):
    env = _env(tmp_path / 'singa', SINGA_SUPERADMIN_PASSWORD='given-password-123')
    try:
        up = singa(env, 'up')
        assert up.returncode == 0, up.stderr
        assert _field(up.stdout, 'password') == 'given-password-123'
        later = singa(dict(env, SINGA_SUPERADMIN_PASSWORD=''), 'up')
        assert _field(later.stdout, 'password') == 'given-password-123'
    finally:
        assert singa(env, 'down', '--purge').returncode == 0
    assert processes_under(tmp_path / 'singa') == []


def test_up_reports_an_admin_that_cannot_start(tmp_path):
    env = _env(tmp_path / 'singa', SINGA_ADMIN_APP='no_such_admin_module:create_app()')
    try:
        up = singa(env, 'up')
        assert up.returncode == 1
        assert 'admin' in up.stderr and 'no_such_admin_module' in up.stderr
    finally:
        singa(env, 'down', '--purge')
    assert processes_under(tmp_path / 'singa') == []
