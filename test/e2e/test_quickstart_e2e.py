"""The quickstart's main job (``examples/quickstart.py``, as ``scripts/quickstart.sh`` runs it) against
``singa up``, with a short budget. While it runs, every process's command line on this machine is
read again and again: none may hold a secret of the stack (the superadmin's password, the token
secret, the PostgreSQL and Redis passwords, the jobs' Redis passwords). Then the ``curl`` it prints
is run as printed: it must get a prediction, and a query lacking features a 400 that names them."""
import json
import os
import re
import shlex
import subprocess
import sys
import types

import requests

from command_lines import CommandLineWatch
from singa.admin.services.deployer import job_redis_credentials
from singa.client import Client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = 'quickstart-e2e'
DEVELOPER = ('quickstart@singaauto.local', 'quickstart-password')   # examples/quickstart.py's


def _read(path) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read().strip()


def test_quickstart_keeps_secrets_off_command_lines_and_its_example_works(stack):
    env = dict(stack['env'], SINGA_SUPERADMIN_PASSWORD=stack['password'])
    with CommandLineWatch() as watched:
        run = subprocess.run([sys.executable, '-m', 'examples.quickstart', '--admin', stack['url'],
                              '--minutes', '0.5', '--app', APP], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
    assert 'ENSEMBLE' in run.stdout

    client = Client(admin_host=stack['host'], admin_port=stack['port'])
    client.login(*DEVELOPER)
    train_job = client.get_train_job(APP)
    inference_job = client.get_running_inference_job(APP)
    signer = types.SimpleNamespace(token_secret=_read(stack['data_dir'] / 'token_secret'))
    secrets = {
        'superadmin password': stack['password'],
        'token secret': signer.token_secret,
        'PostgreSQL password': _read(stack['data_dir'] / 'postgres' / 'password'),
        'Redis password': _read(stack['data_dir'] / 'redis' / 'password'),
        'train job Redis password': job_redis_credentials(signer, 'TRAIN', train_job['id'])[1],
        'inference job Redis password': job_redis_credentials(signer, 'PREDICT', inference_job['id'])[1],
    }
    # The watch saw the run's processes: the quickstart itself, workers, the servers.
    seen = '\n'.join(watched.stop())
    for expected in ('examples.quickstart', 'singa.workers train', 'singa.workers inference',
                     'singa.workers.predictor', 'singa-admin', 'postgres', 'redis'):
        assert expected in seen, expected
    assert watched.holding(secrets) == []

    # The example it printed, run as printed: a real row of all 64 features gets an answer.
    curl = re.search(r'^\s+(curl .*)$', run.stdout, re.M).group(1)
    answer = subprocess.run(shlex.split(curl) + ['-w', '\n%{http_code}'], capture_output=True, text=True,
                            timeout=30, check=True).stdout
    body, status = answer.rsplit('\n', 1)
    assert status == '200', body
    assert len(json.loads(body)['prediction']) == 10
    key = re.search(r'Bearer (sk_\S+)"', curl).group(1)
    partial = requests.post(inference_job['predictor_url'] + '/predict', json={'query': {'pixel_0_0': 0}},
                            headers={'Authorization': f'Bearer {key}'}, timeout=30)
    assert partial.status_code == 400
    assert 'lacks 63 of the 64 features the model was trained on: pixel_0_1, ' in partial.json()['error']['message']
    assert client.stop_inference_job(APP)['status'] == 'STOPPED'
