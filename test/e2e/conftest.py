"""End-to-end tests: the real local stack (``singa up``: embedded PostgreSQL and Redis, the admin
under gunicorn, workers as processes) in a temporary data directory, driven over HTTP."""
import os
import subprocess
import sys

import pytest

from singa.local.servers import free_port


def _singa(env, *args, timeout=180):
    return subprocess.run([sys.executable, '-m', 'singa.cli', *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope='session')
def stack(tmp_path_factory):
    """A running stack: ``{'url', 'host', 'port', 'email', 'password', 'env', 'data_dir'}``."""
    data_dir = tmp_path_factory.mktemp('e2e') / 'singa'
    env = {k: v for k, v in os.environ.items() if not k.startswith('SINGA_')}
    port = free_port()
    env.update(SINGA_DATA_DIR=str(data_dir), SINGA_ADMIN_PORT=str(port), SINGA_TRIAL_LEASE_SECONDS='3',
               SINGA_STOP_GRACE_SECONDS='3', SINGA_RECONCILE_INTERVAL='0.5')
    up = _singa(env, 'up')
    assert up.returncode == 0, up.stdout + up.stderr
    fields = dict(line.strip().split(':', 1) for line in up.stdout.splitlines() if ':' in line and '  ' in line)
    info = {'url': f'http://127.0.0.1:{port}', 'host': '127.0.0.1', 'port': port, 'env': env, 'data_dir': data_dir,
            'email': fields['superadmin'].strip(), 'password': fields['password'].strip()}
    yield info
    down = _singa(env, 'down')
    assert down.returncode == 0, down.stdout + down.stderr
