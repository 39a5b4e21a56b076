"""Hostile model templates against the platform as ``singa up`` runs it (process mode, bubblewrap).

An attacker with a MODEL_DEVELOPER account uploads templates that try, at upload (the template
check), in ``train()`` and in ``predict()``, to read the platform's secrets and other users' files,
to write other users' files, to reach PostgreSQL, Redis, the admin, predictors and the Docker
socket, to read other processes' environments, to exhaust memory, processes, time and output, to
leave processes behind, and to lie to the check. Each test asserts that the attempt failed and that
nothing changed: no secret in any answer, the users and every stored file as they were, the
victim's predictor still answering, no process of model code left.
"""
import io
import json
import os
import threading
import time
import zipfile

import pytest
import requests

from local_stack import PASSWORD, TREE, LocalStack, sandbox_processes, wait_until
from hostile_probe import probe_template
from singa.client import RetryPolicy
from singa.errors import ForbiddenError, InvalidModelError, SingaError
from singa.sandbox import bubblewrap_works


CHECK_TIMEOUT = 8
VALID = '''
from singa.model import BaseModel, FixedKnob

class {name}(BaseModel):
    @staticmethod
    def get_knob_config():
        return {{"k": FixedKnob(1)}}
    def train(self, dataset_path, shared_params=None, **kw):
        pass
    def evaluate(self, dataset_path):
        return 0.5
    def predict(self, queries):
        return [[0.5, 0.5] for _ in queries]
    def dump_parameters(self):
        return {{"k": 1}}
    def load_parameters(self, params):
        pass
'''


@pytest.fixture(scope='module')
def world(tmp_path_factory, iris):
    """A running platform where a victim has data, a trained job and a live predictor."""
    assert bubblewrap_works(), 'bubblewrap cannot make a sandbox here (scripts/test.sh installs it)'
    stack = LocalStack(str(tmp_path_factory.mktemp('hostile') / 'singa'), model_check_timeout=CHECK_TIMEOUT,
                       trial_lease_seconds=5)
    stack.up()
    try:
        victim = stack.user('victim')
        train = victim.create_dataset('iris-train', 'TABULAR_CLASSIFICATION', iris['train'])
        val = victim.create_dataset('iris-val', 'TABULAR_CLASSIFICATION', iris['val'])
        tree = victim.create_model('tree', 'TABULAR_CLASSIFICATION', TREE, 'SkDecisionTree')
        victim.create_train_job('victim-app', 'TABULAR_CLASSIFICATION', train['id'], val['id'],
                                budget={'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.05}, models=[tree['id']])
        victim.wait_until_train_job_has_stopped('victim-app', timeout=180)
        victim.create_inference_job('victim-app')
        job = victim.wait_until_inference_job_is_running('victim-app', timeout=180)
        key = victim.create_prediction_key('victim-app')['key']
        attacker = stack.user('attacker')
        own_train = attacker.create_dataset('a-train', 'TABULAR_CLASSIFICATION', iris['train'])
        own_val = attacker.create_dataset('a-val', 'TABULAR_CLASSIFICATION', iris['val'])
        world = {'stack': stack, 'victim': victim, 'attacker': attacker, 'predictor_url': job['predictor_url'],
                 'key': key, 'datasets': (own_train['id'], own_val['id']), 'victim_model': tree['id'],
                 'victim_datasets': (train['id'], val['id'])}
        world['targets'] = _targets(stack, job['predictor_url'])
        world['users'] = sorted((u['email'], u['user_type'], u.get('banned_date')) for u in stack.client(
            *stack.superadmin).get_users())
        world['files'] = stack.file_hashes()
        world['procs'] = set(sandbox_processes(stack))       # the victim's serving child, nothing else
        yield world
    finally:
        stack.down()


def _targets(stack: LocalStack, predictor_url: str) -> dict:
    secrets = stack.secrets()
    services = stack.path('services')
    read = [stack.path(name) for name in secrets]
    read += [os.path.join(services, s, 'spec.json') for s in os.listdir(services)]
    read += stack.storage_files('data') + stack.storage_files('params') + stack.storage_files('models')
    read += [f'/proc/{stack.admin_pid()}/environ', '/proc/1/environ', '/etc/shadow',
             os.path.expanduser('~/.bash_history')]
    ports = stack.ports()
    predictor_port = int(predictor_url.rsplit(':', 1)[1])
    return {
        'read': read,
        'list': [stack.data_dir, stack.path('storage'), stack.path('storage', 'data'), stack.path('storage', 'params'),
                 stack.path('storage', 'models'), services],
        'write': stack.storage_files('models') + stack.storage_files('data') + stack.storage_files('params'),
        'ports': [['127.0.0.1', p] for p in list(ports.values()) + [predictor_port]],
        'unix': ['/var/run/docker.sock', '/run/docker.sock',
                 stack.path('postgres', f'.s.PGSQL.{ports["postgres"]}')],
        'secrets': list(secrets.values()),
    }


def _write_template(tmp_path, source: str, name: str = 'probe.py') -> str:
    path = tmp_path / name
    path.write_text(source)
    return str(path)


def _assert_nothing_changed(world) -> None:
    stack = world['stack']
    users = sorted((u['email'], u['user_type'], u.get('banned_date'))
                   for u in stack.client(*stack.superadmin).get_users())
    assert users == world['users']
    now = stack.file_hashes()
    assert {p: h for p, h in now.items() if p in world['files']} == world['files']
    answer = requests.post(world['predictor_url'] + '/predict', timeout=10,
                           headers={'Authorization': f'Bearer {world["key"]}'},
                           json={'query': {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4,
                                           'petal_width_cm': 0.2}})
    assert answer.status_code == 200, answer.text
    # Model code left running: nothing but the victim's serving child.
    assert wait_until(lambda: set(sandbox_processes(stack)) <= world['procs'], 15), \
        (sorted(sandbox_processes(stack)), sorted(world['procs']))


def _no_secret_in(world, *texts) -> None:
    for secret in world['targets']['secrets']:
        for text in texts:
            assert secret not in text


# -- at upload: the template check --------------------------------------------------------------------

def test_the_check_reaches_nothing(world, tmp_path):
    path = _write_template(tmp_path, probe_template(world['targets']))
    model = world['attacker'].create_model('probe', 'TABULAR_CLASSIFICATION', path, 'Probe')
    findings = json.loads(model['knob_config']['knobs'][0]['values'][0])
    assert findings == {}
    _no_secret_in(world, json.dumps(model))
    _assert_nothing_changed(world)


@pytest.mark.parametrize('body, message', [
    # Memory: allocated and touched, far over the check's 2048 MiB.
    ('x = b"1" * (3 << 30)\n', 'memory'),
    # Processes: a fork bomb meets the sandbox's process limit.
    ('import os, time\nfor _ in range(300):\n    if os.fork() == 0:\n        time.sleep(60)\n', ''),
    # Time: a sleeper whose grandchild holds the output pipe open is still stopped at the limit.
    ('import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\ntime.sleep(600)\n', 'timed out'),
    # An answer forged on the protocol's pipe is checked like any answer, and refused.
    ('import os\nfor fd in os.listdir("/proc/self/fd"):\n    try:\n        os.write(int(fd), (48).to_bytes(4, "big") + '
     'b\'{"done":true,"ok":true,"knob_config":{"junk":1}}\')\n    except OSError:\n        pass\n',
     'knob config'),
    # The exception that would carry a secret back carries nothing: there is nothing to read.
    ('raise RuntimeError(open(SECRET_PATH).read())\n', 'FileNotFoundError'),
])
def test_abuse_at_upload_is_refused_quickly_with_a_reason(world, tmp_path, body, message):
    source = body.replace('SECRET_PATH', repr(world['stack'].path('token_secret'))) + VALID.format(name='Abuser')
    path = _write_template(tmp_path, source)
    started = time.monotonic()
    with pytest.raises(InvalidModelError) as refused:
        world['attacker'].create_model(f'abuser-{abs(hash(body))}', 'TABULAR_CLASSIFICATION', path, 'Abuser')
    assert time.monotonic() - started < CHECK_TIMEOUT + 10
    assert refused.value.status_code == 400 and message in refused.value.message
    _no_secret_in(world, refused.value.message)
    _assert_nothing_changed(world)


def test_processes_left_by_a_check_do_not_outlive_it(world, tmp_path):
    source = ('import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(600)\n'
              '    os._exit(0)\n') + VALID.format(name='Leaver')
    world['attacker'].create_model('leaver', 'TABULAR_CLASSIFICATION', _write_template(tmp_path, source), 'Leaver')
    assert set(sandbox_processes(world['stack'])) <= world['procs']


def test_output_floods_are_bounded(world, tmp_path):
    source = 'import sys\nfor _ in range(200):\n    sys.stdout.write("x" * (1 << 20))\n' + VALID.format(name='Loud')
    started = time.monotonic()
    world['attacker'].create_model('loud', 'TABULAR_CLASSIFICATION', _write_template(tmp_path, source), 'Loud')
    assert time.monotonic() - started < CHECK_TIMEOUT + 10
    assert _admin_rss_mb(world['stack']) < 400


def test_slow_checks_cannot_starve_the_admin(world, tmp_path):
    """Uploads that each hold their check to the time limit take at most a few of the admin's
    threads; the others get a 503 at once, and the admin keeps answering."""
    source = 'import time\ntime.sleep(600)\n' + VALID.format(name='Sleeper')
    path = _write_template(tmp_path, source)
    outcomes = []

    # Retries off: the client would otherwise wait its turn through the 503s (up to 30 s).
    attacker = world['stack'].client('attacker@example.com', PASSWORD, retry=RetryPolicy(attempts=1))

    def upload(i):
        try:
            attacker.create_model(f'sleeper-{i}', 'TABULAR_CLASSIFICATION', path, 'Sleeper')
        except SingaError as e:
            outcomes.append(e.status_code)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    started = time.monotonic()
    assert requests.get(world['stack'].url + '/health', timeout=5).status_code == 200
    assert time.monotonic() - started < 3
    for thread in threads:
        thread.join()
    # Each was refused: timed out (400), or turned away while two checks ran (503).
    assert len(outcomes) == 6 and set(outcomes) == {400, 503}, outcomes


def test_zip_bombs_are_refused_before_they_expand(world, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        archive.writestr('model.py', VALID.format(name='Bomb'))
        for i in range(400):                       # small entries: each under any per-entry floor
            archive.writestr(f'pad/{i}.bin', b'\0' * (512 << 10))
    path = tmp_path / 'bomb.zip'
    path.write_bytes(buffer.getvalue())
    assert path.stat().st_size < 1 << 20
    with pytest.raises(InvalidModelError, match='zip'):
        world['attacker'].create_model('bomb', 'TABULAR_CLASSIFICATION', str(path), 'Bomb', model_file_name='model.py')


# -- in train() and predict() ---------------------------------------------------------------------------

def test_train_and_predict_reach_nothing(world, tmp_path):
    attacker = world['attacker']
    path = _write_template(tmp_path, probe_template(world['targets']))
    model = attacker.create_model('probe-run', 'TABULAR_CLASSIFICATION', path, 'Probe')
    train_id, val_id = world['datasets']
    attacker.create_train_job('probe-app', 'TABULAR_CLASSIFICATION', train_id, val_id,
                              budget={'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.05}, models=[model['id']])
    attacker.wait_until_train_job_has_stopped('probe-app', timeout=120)
    trial = attacker.get_trials_of_train_job('probe-app')[0]
    logs = attacker.get_trial_logs(trial['id'])
    lines = [m['message'] for m in logs['messages'] if m['message'].startswith('FINDINGS ')]
    assert lines and json.loads(lines[0][len('FINDINGS '):]) == {}, logs['messages']
    assert trial['status'] == 'COMPLETED' and trial['score'] == 1.0
    _no_secret_in(world, json.dumps(logs), json.dumps(trial))

    attacker.create_inference_job('probe-app')
    attacker.wait_until_inference_job_is_running('probe-app', timeout=120)
    answers = attacker.predict('probe-app', [{'x': 1}, {'x': 2}])
    assert [json.loads(a) if isinstance(a, str) else a for a in answers] == [{}, {}], answers
    _no_secret_in(world, json.dumps(answers))
    attacker.stop_inference_job('probe-app')
    _assert_nothing_changed(world)


TRAIN_TEMPLATE = '''
import os, time
from singa.model import BaseModel, IntegerKnob, logger

class Trainer(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"n": IntegerKnob(0, 1000)}
    def train(self, dataset_path, shared_params=None, **kw):
%s
    def evaluate(self, dataset_path):
        return 0.5
    def predict(self, queries):
        return [[0.5, 0.5] for _ in queries]
    def dump_parameters(self):
        return {"k": 1}
    def load_parameters(self, params):
        pass
'''
# Counts the processes of its sandbox besides its own, then leaves one running.
LEAVER = """        strays = [p for p in os.listdir("/proc") if p.isdigit() and int(p) > 2 and int(p) != os.getpid()]
        logger.log("STRAYS %d" % len(strays))
        if os.fork() == 0:
            os.setsid()
            time.sleep(600)
            os._exit(0)"""
# Touches more memory than its sandbox may use.
HOG = """        self.hog = b"1" * (6 << 30)"""


def _run_job(world, tmp_path, app: str, body: str, trials: int) -> list:
    attacker = world['attacker']
    path = _write_template(tmp_path, TRAIN_TEMPLATE % body, f'{app}.py')
    model = attacker.create_model(app, 'TABULAR_CLASSIFICATION', path, 'Trainer')
    train_id, val_id = world['datasets']
    attacker.create_train_job(app, 'TABULAR_CLASSIFICATION', train_id, val_id,
                              budget={'MODEL_TRIAL_COUNT': trials, 'WORKERS_PER_MODEL': 1, 'TIME_HOURS': 0.05},
                              models=[model['id']])
    attacker.wait_until_train_job_has_stopped(app, timeout=180)
    return [(t, [m['message'] for m in attacker.get_trial_logs(t['id'])['messages']])
            for t in sorted(attacker.get_trials_of_train_job(app), key=lambda t: t['no'])]


def test_processes_left_by_a_trial_do_not_outlive_it(world, tmp_path):
    trials = _run_job(world, tmp_path, 'leaver-app', LEAVER, 3)
    assert [t['status'] for t, _ in trials] == ['COMPLETED'] * 3
    assert all("STRAYS 0" in messages for _, messages in trials), [(t["no"], m) for t, m in trials]
    _assert_nothing_changed(world)


def test_a_trial_that_exhausts_memory_costs_only_itself(world, tmp_path):
    trials = _run_job(world, tmp_path, 'hog-app', HOG, 2)
    assert [t['status'] for t, _ in trials] == ['ERRORED', 'ERRORED'], trials
    for _, messages in trials:
        assert any('more than 4096 MiB of memory' in m for m in messages), messages
    _assert_nothing_changed(world)


def test_a_public_hostile_template_breaks_only_its_own_use(world, tmp_path):
    """A victim's default train job (every template of the task, the attacker's public one too)
    still runs; the attacker's template reaches nothing of the victim's job beyond its inputs."""
    attacker, victim = world['attacker'], world['victim']
    lying = probe_template(world['targets']).replace('def train(self', 'def broken(self').replace(
        '    def evaluate', '    def train(self, dataset_path, shared_params=None, **kw):\n'
                           '        raise RuntimeError("only my own trials fail")\n\n    def evaluate')
    attacker.create_model('public-liar', 'TABULAR_CLASSIFICATION', _write_template(tmp_path, lying), 'Probe',
                          access_right='PUBLIC')
    train_id, val_id = world['victim_datasets']
    victim.create_train_job('victim-default', 'TABULAR_CLASSIFICATION', train_id, val_id,
                            budget={'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.05})
    victim.wait_until_train_job_has_stopped('victim-default', timeout=180)
    trials = victim.get_trials_of_train_job('victim-default')
    by_model = {t['model_name']: t['status'] for t in trials}
    assert by_model.get('tree') == 'COMPLETED', trials
    assert by_model.get('public-liar') == 'ERRORED', trials
    _assert_nothing_changed(world)


def test_without_a_sandbox_only_the_superadmin_may_run_code(tmp_path):
    """Where no sandbox can be had (here: a PATH without bubblewrap for this stack), ``singa up``
    says so and the admin refuses other users' templates unless started for a single user."""
    stack = LocalStack(str(tmp_path / 'singa'))
    stack.env['PATH'] = _path_without(tmp_path / 'bin', 'bwrap')
    try:
        output = stack.up()
        assert 'no sandbox' in output
        developer = stack.user('dev')
        path = _write_template(tmp_path, VALID.format(name='Plain'))
        with pytest.raises(ForbiddenError, match='no sandbox'):
            developer.create_model('plain', 'TABULAR_CLASSIFICATION', path, 'Plain')
        admin = stack.client(*stack.superadmin)
        assert admin.create_model('plain', 'TABULAR_CLASSIFICATION', path, 'Plain')['id']
    finally:
        stack.down()


def _path_without(directory, program: str) -> str:
    """A PATH of one directory holding links to every program on this PATH but ``program``."""
    directory.mkdir()
    for folder in os.environ['PATH'].split(':'):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            link = directory / name
            if name != program and not link.exists():
                link.symlink_to(os.path.join(folder, name))
    return str(directory)


def _admin_rss_mb(stack: LocalStack) -> float:
    """Resident memory of the admin's gunicorn processes, in MiB (the largest)."""
    master = stack.admin_pid()
    rss = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/status', encoding='ascii') as f:
                status = f.read()
        except OSError:
            continue
        ppid = int(status.split('PPid:')[1].split()[0])
        if int(entry) == master or ppid == master:
            rss.append(int(status.split('VmRSS:')[1].split()[0]) / 1024)
    return max(rss)
