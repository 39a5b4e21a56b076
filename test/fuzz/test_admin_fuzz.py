"""Schemathesis fuzzes every operation of the admin's OpenAPI document (``/openapi.json``).

The admin runs as ``singa up`` runs it (gunicorn, its real process container manager) on the
session's PostgreSQL and Redis, with a dataset pair and a template of the superadmin's in it, so
that creating a train job can succeed and start real workers. The fuzzer follows
``schemathesis.toml`` beside this file (a fixed seed, deterministic generation, a bounded number of
examples per operation and phase) and ``fuzz_hooks.py`` (every request as the superadmin), and
fails on any 5xx, any answer the document does not describe (status or body), and any request
valid by the document that is refused for its shape.

Whatever jobs the fuzzer started are stopped through the API at the end, and whatever services
are left once the admin has stopped are removed, so nothing it started outlives the test.

``SINGA_FUZZ_ARGS`` adds Schemathesis options to a run by hand (``--include-path-regex predict``,
``--max-examples 200``); ``SINGA_FUZZ_CONFIG`` names another configuration file.
"""
import os
import shlex
import shutil
import subprocess
import sys

import pytest
import requests

from admin_server import admin_log, remove_services, running_admin, superadmin_token
from singa.client import Client

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'examples')
SUPPORT = os.path.join(os.path.dirname(HERE), 'support')
CONFIG = os.environ.get('SINGA_FUZZ_CONFIG', os.path.join(HERE, 'schemathesis.toml'))


@pytest.fixture
def fuzzed_admin(base_env, meta_store, iris, tmp_path):
    root = tmp_path / 'platform'
    # The fuzzer registers webhooks and downloads datasets from whatever URLs it makes up: only an
    # address where nothing listens may be one (a made-up name that resolves nowhere is accepted for
    # a webhook, and its deliveries fail; a download from it is refused). The dependencies it makes
    # up are resolved by pip with no index and an empty wheelhouse (a 400 at once), never fetched
    # from PyPI.
    no_wheels = tmp_path / 'no-wheels'
    no_wheels.mkdir()
    with running_admin(base_env, root, SINGA_WEBHOOK_NETWORKS='127.0.0.2/32',
                       SINGA_DATASET_URL_NETWORKS='127.0.0.2/32', PIP_NO_INDEX='1',
                       PIP_FIND_LINKS=str(no_wheels)) as (url, settings):
        host, port = url.rsplit('//', 1)[1].split(':')
        boss = Client(host, int(port))
        boss.login(settings.superadmin_email, settings.superadmin_password)
        try:
            boss.create_dataset('iris-train', 'TABULAR_CLASSIFICATION', iris['train'])
            boss.create_dataset('iris-val', 'TABULAR_CLASSIFICATION', iris['val'])
            boss.create_model('tree', 'TABULAR_CLASSIFICATION', os.path.join(EXAMPLES, 'models', 'sk_decision_tree.py'),
                              'SkDecisionTree')
            yield url, settings
        finally:
            # A token of now: the fuzzer logged out everywhere, and its failed logins lock the address.
            token = superadmin_token(settings, meta_store)
            stopped = requests.post(f'{url}/actions/stop_all_jobs', headers={'Authorization': f'Bearer {token}'})
            assert stopped.status_code == 200, stopped.text
    remove_services(settings)
    assert 'internal error' not in admin_log(root), admin_log(root)[-5000:]


def test_every_operation_of_the_openapi_document(fuzzed_admin, base_env, tmp_path):
    url, settings = fuzzed_admin
    command = [shutil.which('schemathesis', path=os.path.dirname(sys.executable)), '--config-file', CONFIG, 'run',
               f'{url}/openapi.json', '--report', 'ndjson', '--report-ndjson-path', str(tmp_path / 'events.ndjson'),
               *shlex.split(os.environ.get('SINGA_FUZZ_ARGS', ''))]
    # The hooks issue the superadmin's tokens with the fuzzed admin's settings.
    env = dict(os.environ, **dict(base_env, SINGA_DATA_DIR=settings.data_dir, SINGA_STORAGE_DIR=settings.storage_dir),
               NO_COLOR='1', PYTHONPATH=os.pathsep.join([HERE, SUPPORT]))
    run = subprocess.run(command, env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=900)
    print(run.stdout[-6000:])
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]
