"""Hostile model templates against a stack on the live Docker Swarm (``scripts/start.sh``).

There, the template check runs in a throwaway container with no network, and train and inference
workers run model code beside a non-dumpable worker (PID 1 of its container) in a locked-down
container: read-only root file system, no capabilities, the image's non-root user, memory and
process limits, exactly its job's files mounted, on an internal network where only Redis of the
stack is. An attacker's template tries, at upload, in ``train()`` and in ``predict()``, to read the
stack's secrets, the worker's credentials (its environment, ``/proc/1/environ``) and other users'
files, to write its own template and other users' files, and to reach the admin, PostgreSQL,
predictors, the Docker socket and Redis without credentials. Every attempt must fail and change
nothing.
"""
import hashlib
import json
import os

import pytest
import requests

from hostile_probe import probe_template
from swarm_stack import REPO, SwarmStack, service_containers
from docker_cli import docker
from singa.admin.services.deployer import job_redis_credentials
from singa.config import Settings

pytestmark = pytest.mark.swarm

TREE = str(REPO / 'examples' / 'models' / 'sk_decision_tree.py')
PASSWORD = 'a-long-test-password-1'
QUERY = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4, 'petal_width_cm': 0.2}


@pytest.fixture(scope='module')
def world(singa_images, swarm, tmp_path_factory, iris):
    stack = SwarmStack.new(singa_images, tmp_path_factory.mktemp('hostile-swarm'), trial_lease_seconds=5,
                           reconcile_interval=1, predictor_port_min=32300, predictor_port_max=32399,
                           stop_timeout=30)
    try:
        printed = stack.start()
        admin = stack.client()
        for name in ('victim', 'attacker'):
            admin.create_user(f'{name}@example.com', PASSWORD, 'MODEL_DEVELOPER')
        victim = stack.client('victim@example.com', PASSWORD)
        attacker = stack.client('attacker@example.com', PASSWORD)
        for client in (victim, attacker):
            client._session.headers['Connection'] = 'close'
        train = victim.create_dataset('iris-train', 'TABULAR_CLASSIFICATION', iris['train'])
        val = victim.create_dataset('iris-val', 'TABULAR_CLASSIFICATION', iris['val'])
        tree = victim.create_model('tree', 'TABULAR_CLASSIFICATION', TREE, 'SkDecisionTree')
        victim_job = victim.create_train_job('victim-app', 'TABULAR_CLASSIFICATION', train['id'], val['id'],
                                             budget={'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.1}, models=[tree['id']])
        victim.wait_until_train_job_has_stopped('victim-app', timeout=300)
        victim.create_inference_job('victim-app')
        serving = victim.wait_until_inference_job_is_running('victim-app', timeout=300)
        key = victim.create_prediction_key('victim-app')['key']
        own_train = attacker.create_dataset('a-train', 'TABULAR_CLASSIFICATION', iris['train'])
        own_val = attacker.create_dataset('a-val', 'TABULAR_CLASSIFICATION', iris['val'])
        secrets = {p.name: p.read_text().strip() for p in (stack.home / 'secrets').iterdir()}
        token = Settings.from_env({}, token_secret=secrets['token_secret'])
        job_password = job_redis_credentials(token, 'TRAIN', victim_job['id'])[1]
        storage = stack.home / 'storage'
        files = sorted(str(p) for p in storage.rglob('*') if p.is_file())
        in_container = [f'/storage/{os.path.relpath(p, storage)}' for p in files]
        own = {f'/storage/data/{d["id"]}.csv' for d in (own_train, own_val)}     # its job's, to read
        host = printed['admin'].split('//')[1].rsplit(':', 1)[0]
        targets = {
            # Other processes' environments are covered by the probe itself: it reports any it can
            # read that holds a SINGA_ variable or a password (the worker, PID 1, holds both).
            'read': [f'/run/secrets/{name}' for name in secrets] + [p for p in in_container if p not in own],
            # (The folders of its own mounts exist in a worker's container; they show only those.)
            'list': ['/run/secrets'],
            'write': in_container + ['/usr/bin/python3', '/home/singa/x'],
            'ports': [[f'{stack.name}-admin', 3000], [f'{stack.name}-postgres', 5432], [host, stack.port],
                      [host, int(serving['predictor_url'].rsplit(':', 1)[1])]],
            'redis': [[f'{stack.name}-redis', 6379]],
            'unix': ['/var/run/docker.sock', '/run/docker.sock'],
            'secrets': list(secrets.values()) + [job_password],
        }
        hashes = {p: hashlib.sha256(open(p, 'rb').read()).hexdigest() for p in files    # (logs grow as it runs)
                  if os.path.relpath(p, storage).split(os.sep)[0] != 'logs'}
        yield {'stack': stack, 'victim': victim, 'attacker': attacker, 'targets': targets, 'hashes': hashes,
               'datasets': (own_train['id'], own_val['id']), 'predictor_url': serving['predictor_url'], 'key': key}
    finally:
        stack.stop(purge=True)


def _findings(text: str) -> dict:
    return json.loads(text)


def _no_secret_in(world, text: str) -> None:
    for secret in world['targets']['secrets']:
        assert secret not in text


def test_model_code_on_swarm_reaches_nothing(world, tmp_path):
    attacker = world['attacker']
    path = tmp_path / 'probe.py'
    path.write_text(probe_template(world['targets']))

    # At upload: the check's container.
    model = attacker.create_model('probe', 'TABULAR_CLASSIFICATION', str(path), 'Probe')
    assert _findings(model['knob_config']['knobs'][0]['values'][0]) == {}

    # In train(): a confined train worker.
    train_id, val_id = world['datasets']
    job = attacker.create_train_job('probe-app', 'TABULAR_CLASSIFICATION', train_id, val_id,
                                    budget={'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.1}, models=[model['id']])
    attacker.wait_until_train_job_has_stopped('probe-app', timeout=300)
    trial = attacker.get_trials_of_train_job('probe-app')[0]
    logs = attacker.get_trial_logs(trial['id'])
    lines = [m['message'] for m in logs['messages'] if m['message'].startswith('FINDINGS ')]
    assert lines and _findings(lines[0][len('FINDINGS '):]) == {}, logs['messages']
    assert trial['status'] == 'COMPLETED' and trial['score'] == 1.0

    # In predict(): a confined inference worker.
    attacker.create_inference_job('probe-app')
    attacker.wait_until_inference_job_is_running('probe-app', timeout=300)
    answers = attacker.predict('probe-app', [{'x': 1}])
    assert [_findings(a) for a in answers] == [{}], answers
    _no_secret_in(world, json.dumps([model, logs, trial, answers]))

    # The workers really were confined as promised.
    stack = world['stack']
    worker = stack.job_services(f'singa.job_id={job["id"]}', 'singa.service_type=TRAIN')
    spec = json.loads(docker('service', 'inspect', stack.job_services('singa.service_type=INFERENCE')[0]).stdout)[0]
    container = spec['Spec']['TaskTemplate']['ContainerSpec']
    assert container['ReadOnly'] and container['CapabilityDrop'] == ['ALL'] and not container.get('Init')
    assert [n['Target'] for n in spec['Spec']['TaskTemplate']['Networks']] == \
        [docker('network', 'inspect', '--format', '{{.ID}}', f'{stack.name}-workers').stdout.strip()]
    assert worker == [] or all(service_containers(w, running_only=True) == [] for w in worker)
    attacker.stop_inference_job('probe-app')

    # Nothing changed: every stored file, and the victim's predictor answers.
    for path, digest in world['hashes'].items():
        assert hashlib.sha256(open(path, 'rb').read()).hexdigest() == digest, path
    answer = requests.post(world['predictor_url'] + '/predict', timeout=10, json={'query': QUERY},
                           headers={'Authorization': f'Bearer {world["key"]}'})
    assert answer.status_code == 200, answer.text
