"""The ``singa`` command against ``singa up``: the real console script in subprocesses, logged in as a
person would (the password on standard input), through datasets, templates, a train job with its
progress display, trials and their logs, deploying, keys and predictions, with the JSON output and
the exit codes of what goes wrong."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from command_lines import CommandLineWatch
from local_stack import wait_until
from singa.cli import exits
from singa.local.servers import free_port
from singa.param_store.codec import decode_params
from singa.ranking import tie_tolerance
from terminal import run_in_terminal

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TREE = os.path.join(REPO, 'examples', 'models', 'sk_decision_tree.py')
SINGA = shutil.which('singa', path=os.path.dirname(sys.executable))     # the console script setup.py installs
PASSWORD = 'amber-walrus-cli-5'
TASK = 'TABULAR_CLASSIFICATION'
IRIS_ROW = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.4, 'petal_length_cm': 1.5, 'petal_width_cm': 0.2}

CHATTY = '''
import time
from singa.model import BaseModel, FloatKnob, logger

class Chatty(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        for epoch in range(20):
            logger.log(f"epoch {epoch} done")
            logger.log(loss=1.0 / (epoch + 1), epoch=epoch)
            time.sleep(0.2)

    def evaluate(self, dataset_path):
        return self.knobs["x"]

    def predict(self, queries):
        return [0.0 for _ in queries]

    def dump_parameters(self):
        return {}

    def load_parameters(self, params):
        pass
'''
BROKEN = CHATTY.replace('class Chatty', 'class Broken').replace(
    'for epoch in range(20):', 'raise ValueError("this template cannot learn")\n        for epoch in range(20):')


class Cli:
    """Runs ``singa`` with the stack's environment and a config directory of its own."""

    def __init__(self, stack, config_dir):
        assert SINGA, 'the singa console script is not installed next to this Python'
        self.env = dict(stack['env'], XDG_CONFIG_HOME=str(config_dir))
        self.env.pop('SINGA_TOKEN', None)

    def __call__(self, *args, input=None, timeout=180, **env) -> subprocess.CompletedProcess:
        return subprocess.run([SINGA, *args], env=dict(self.env, **env), input=input, capture_output=True,
                              text=True, timeout=timeout)

    def json(self, *args, **kwargs):
        done = self(*args, '--json', **kwargs)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def ok(self, *args, **kwargs) -> str:
        done = self(*args, **kwargs)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    @property
    def credentials(self) -> str:
        return os.path.join(self.env['XDG_CONFIG_HOME'], 'singa', 'credentials.json')


def failed(done: subprocess.CompletedProcess, code: int) -> dict:
    """The JSON error of a command run with --json that ended with ``code``."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ''
    report = json.loads(done.stderr)
    assert report['exit_code'] == code
    return report['error']


@pytest.fixture(scope='module')
def dev(stack, tmp_path_factory):
    """``singa`` logged in as a model developer the superadmin created with ``singa users create``."""
    cli = Cli(stack, tmp_path_factory.mktemp('cli-config'))
    cli.ok('login', stack['email'], '--password-stdin', input=stack['password'] + '\n')
    cli.ok('users', 'create', 'cli-dev@example.com', '--type', 'MODEL_DEVELOPER', '--password-stdin',
           input=PASSWORD + '\n')
    cli.ok('login', 'cli-dev@example.com', '--password-stdin', input=PASSWORD + '\n')
    return cli


@pytest.fixture(scope='module')
def iris_data(dev, iris):
    """The iris splits uploaded as ``cli-iris-train`` and ``cli-iris-val``; the tree as ``cli-tree``."""
    train_id = dev.ok('datasets', 'upload', 'cli-iris-train', iris['train'], '--task', TASK, '-q').strip()
    val = dev.json('datasets', 'upload', 'cli-iris-val', iris['val'], '--task', TASK)
    tree = dev.json('models', 'upload', 'cli-tree', TREE, '--task', TASK, '--class', 'SkDecisionTree',
                    '--dependency', 'scikit-learn', '--dependency', 'skops')
    return {'train': train_id, 'val': val['id'], 'tree': tree['id']}


def test_login_keeps_a_private_token_that_logout_revokes(stack, tmp_path):
    cli = Cli(stack, tmp_path / 'config')
    assert failed(cli('whoami', '--json'), exits.UNAUTHENTICATED)['type'] == 'UnauthenticatedError'
    refused = cli('login', stack['email'])                  # no terminal to ask on, and no --password-stdin
    assert refused.returncode == exits.USAGE and '--password-stdin' in refused.stderr
    wrong = cli('login', stack['email'], '--password-stdin', input='not-the-password\n')
    assert wrong.returncode == exits.UNAUTHENTICATED and 'wrong email or password' in wrong.stderr
    assert 'hint' not in wrong.stderr and not os.path.exists(cli.credentials)

    with CommandLineWatch() as watch:
        login = cli.json('login', stack['email'], '--password-stdin', input=stack['password'] + '\n')
    assert watch.holding({'password': stack['password']}) == []
    assert login['user_type'] == 'SUPERADMIN' and login['admin_url'].endswith(f":{stack['port']}")
    assert os.stat(cli.credentials).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(cli.credentials)).st_mode & 0o777 == 0o700
    with open(cli.credentials) as f:
        saved = json.load(f)
    assert saved['token'] and stack['password'] not in json.dumps(saved)
    assert cli.json('whoami')['email'] == stack['email']
    assert 'SUPERADMIN' in cli.ok('whoami')

    # The environment wins: another address gets no token it was not issued for; SINGA_TOKEN is used as is.
    elsewhere = cli('whoami', '--json', SINGA_ADMIN_PORT=str(free_port()))
    assert failed(elsewhere, exits.UNAUTHENTICATED)['message'].startswith('not logged in')
    unreachable = cli('datasets', 'list', '--json', SINGA_ADMIN_PORT=str(free_port()), SINGA_TOKEN=saved['token'])
    assert failed(unreachable, exits.UNAVAILABLE)['type'] == 'ServiceUnavailableError'
    other = Cli(stack, tmp_path / 'other-config')
    assert other.json('whoami', SINGA_TOKEN=saved['token'])['token_from'] == 'SINGA_TOKEN'

    os.chmod(cli.credentials, 0o644)                        # readable by others: refused, as ssh refuses a key
    assert cli('whoami').returncode == exits.USAGE
    cli.ok('login', stack['email'], '--password-stdin', input=stack['password'] + '\n')     # ...and replaced
    assert os.stat(cli.credentials).st_mode & 0o777 == 0o600
    with open(cli.credentials) as f:
        saved = json.load(f)

    logout = cli.json('logout')
    assert logout['revoked'] and logout['credentials_removed'] and not os.path.exists(cli.credentials)
    assert failed(other('whoami', '--json', SINGA_TOKEN=saved['token']), exits.UNAUTHENTICATED)['status_code'] == 401
    assert 'Not logged in' in cli.ok('logout')


def test_train_deploy_and_predict_from_the_command_line(stack, dev, iris_data, iris, tmp_path):
    # A train job from names; its progress is a line per change (stdout is a pipe) until the job ends.
    done = dev('train', 'create', 'cli-iris', '--train-dataset', 'cli-iris-train', '--val-dataset', 'cli-iris-val',
               '--model', 'cli-tree', '--trials', '4', '--time-hours', '0.05', '--seed', '0', '--interval', '0.3')
    assert done.returncode == 0, done.stdout + done.stderr
    progress = [line for line in done.stdout.splitlines() if line.startswith('[')]
    assert re.search(r' cli-iris v1 STOPPED: 4/4 trials done, 0 running, best score [01]\.\d{4}$', progress[-1])
    assert len(progress) == len(set(line.split('] ', 1)[1] for line in progress))     # a line per change
    assert '\r' not in done.stdout and 'cli-tree  STOPPED  4 COMPLETED' in done.stdout
    job = dev.json('train', 'show', 'cli-iris')
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 4      # it returned when the job ended
    assert [j['app'] for j in dev.json('train', 'list', 'cli-iris')] == ['cli-iris']

    # Trials, the best first, a trial's logs and parameters.
    trials = dev.json('trials', 'list', 'cli-iris')
    assert len(trials) == 4 and {t['status'] for t in trials} == {'COMPLETED'}
    best = dev.json('trials', 'list', 'cli-iris', '--best', '1')[0]
    with open(iris['val']) as f:
        val_rows = sum(1 for _ in f) - 1
    top = max(t['score'] for t in trials)
    assert top == job['best_score'] and best['tied_with_best'] and best['score'] >= top - tie_tolerance(1 / val_rows)
    # The front on two figures the job did not name, and the other trials.
    pareto = dev.json('trials', 'pareto', 'cli-iris', '--objective', 'score', '--objective', 'params_bytes:minimize',
                      '--others')
    assert [o['name'] for o in pareto['objectives']] == ['score', 'params_bytes']
    front, others = pareto['trials'], pareto['others']
    assert sorted(t['id'] for t in front + others) == sorted(t['id'] for t in trials)
    for t in front:
        assert not any(o['score'] >= t['score'] and o['params_bytes'] <= t['params_bytes'] and
                       (o['score'], o['params_bytes']) != (t['score'], t['params_bytes']) for o in trials)
    shown = dev.ok('trials', 'pareto', 'cli-iris', '--objective', 'score', '--objective', 'params_bytes:minimize',
                   '--others')
    assert 'Objectives: maximize score, minimize params_bytes' in shown and 'Other completed trials:' in shown
    assert dev.json('trials', 'show', best['id'])['knobs'] == best['knobs']
    logs = dev.json('trials', 'logs', best['id'])
    assert logs['messages'] and logs['metrics'][0]['score'] == best['score']
    assert 'Trained DecisionTreeClassifier' in dev.ok('trials', 'logs', best['id'], '--follow')  # ended: returns
    dev.ok('trials', 'parameters', best['id'], '-o', str(tmp_path / 'best.params'))
    with open(tmp_path / 'best.params', 'rb') as f:
        assert set(decode_params(f.read())) >= {'pipeline', 'features'}

    # Deploy, a key, and predictions: as the owner through the admin, and with the key at the predictor.
    served = dev.json('inference', 'create', 'cli-iris', '--timeout', '120')
    assert served['status'] == 'RUNNING' and served['predictor_url']
    key = dev.json('keys', 'create', 'cli-iris', '--name', 'cli')
    assert [k['id'] for k in dev.json('keys', 'list', 'cli-iris')] == [key['id']]
    owner = dev.json('predict', 'cli-iris', '--query', json.dumps(IRIS_ROW))['predictions']
    assert len(owner) == 1 and max(range(3), key=owner[0].__getitem__) == 0
    assert dev.ok('predict', 'cli-iris', '--query', json.dumps(IRIS_ROW)).startswith('0\tclass 0 (')
    with open(iris['test']) as f:
        header, *rows = [line.strip().split(',') for line in f if line.strip()]
    queries = [{k: float(v) for k, v in zip(header[:-1], row[:-1])} for row in rows]
    (tmp_path / 'queries.json').write_text(json.dumps({'queries': queries}))
    (tmp_path / 'key.txt').write_text(key['key'] + '\n')
    with CommandLineWatch() as watch:
        direct = dev.json('predict', 'cli-iris', str(tmp_path / 'queries.json'), '--key-file', str(tmp_path / 'key.txt'))
    assert watch.holding({'key': key['key']}) == []
    assert len(direct['predictions']) == len(queries)
    accuracy = sum(max(range(3), key=p.__getitem__) == int(r[-1]) for p, r in zip(direct['predictions'], rows))
    assert accuracy / len(rows) > 0.8
    # An application user: not logged in, the key in the environment, the queries on standard input.
    app_user = Cli(stack, tmp_path / 'app-user-config')
    answer = app_user.json('predict', 'cli-iris', '-', '--predictor-url', served['predictor_url'], '--details',
                           input=json.dumps([IRIS_ROW]), SINGA_PREDICTION_KEY=key['key'])
    assert answer['predictions'] == owner and answer['models']

    # What goes wrong: each with its exit code and a JSON error.
    assert failed(dev('train', 'show', 'no-such-app', '--json'), exits.NOT_FOUND)['type'] == 'NotFoundError'
    assert failed(dev('trials', 'show', '00000000-0000-4000-8000-000000000000', '--json'), exits.NOT_FOUND)
    assert failed(dev('train', 'create', 'cli-x', '--train-dataset', 'no-such-data', '--val-dataset',
                      'cli-iris-val', '--json'), exits.NOT_FOUND)['resource'] == 'dataset'
    too_long = failed(dev('train', 'create', 'cli-x', '--train-dataset', 'cli-iris-train', '--val-dataset',
                          'cli-iris-val', '--time-hours', '1000', '--json'), exits.REFUSED)
    assert too_long['status_code'] == 400 and 'TIME_HOURS' in too_long['message']
    assert failed(dev('users', 'list', '--json'), exits.REFUSED)['status_code'] == 403
    assert failed(dev('predict', 'cli-iris', '--query', '{not json', '--json'), exits.USAGE)['type'] == 'UsageError'
    assert dev('datasets', 'upload', 'x', str(tmp_path / 'missing.csv'), '--task', TASK).returncode == exits.USAGE
    assert dev('train', 'create', '--json').returncode == exits.USAGE           # argparse: a required argument

    # Revoke the key, stop the deployment: the key is refused, a wait on the stopped job fails.
    dev.ok('keys', 'revoke', 'cli-iris', key['id'])

    def with_the_revoked_key():          # the predictor trusts a key it accepted for at most 2 s more
        done = app_user('predict', 'cli-iris', '--query', json.dumps(IRIS_ROW), '--predictor-url',
                        served['predictor_url'], '--json', SINGA_PREDICTION_KEY=key['key'])
        return done if done.returncode else None
    assert failed(wait_until(with_the_revoked_key, timeout=15), exits.UNAUTHENTICATED)['status_code'] == 401
    assert dev.json('inference', 'stop', 'cli-iris')['status'] == 'STOPPED'
    assert dev('inference', 'wait', 'cli-iris', '--timeout', '30').returncode == exits.JOB_ERRORED
    assert dev.json('inference', 'show', 'cli-iris')['status'] == 'STOPPED'


def test_the_live_display_on_a_terminal_and_a_job_that_errors(dev, iris_data, tmp_path):
    job = dev.json('train', 'create', 'cli-live', '--train-dataset', 'cli-iris-train', '--val-dataset',
                   'cli-iris-val', '--model', iris_data['tree'], '--trials', '3', '--time-hours', '0.05',
                   '--detach')
    assert job['status'] in ('STARTED', 'RUNNING')
    code, screen = run_in_terminal([SINGA, 'train', 'wait', 'cli-live', '--interval', '0.3'], dev.env, timeout=120)
    assert code == 0, screen
    redraws = screen.split('\r\x1b[K')
    assert len(redraws) >= 2                                 # one line, redrawn in place after each poll
    assert redraws[-1].startswith('cli-live v1 STOPPED  trials 3/3 (0 running)  best ')
    assert 'cli-live v1 STOPPED after' in screen

    (tmp_path / 'broken.py').write_text(BROKEN)
    dev.ok('models', 'upload', 'cli-broken', str(tmp_path / 'broken.py'), '--task', TASK, '--class', 'Broken')
    errored = dev('train', 'create', 'cli-broken', '--train-dataset', 'cli-iris-train', '--val-dataset',
                  'cli-iris-val', '--model', 'cli-broken', '--trials', '10', '--time-hours', '0.05', '--json')
    assert errored.returncode == exits.JOB_ERRORED, errored.stdout + errored.stderr
    assert json.loads(errored.stdout)['status'] == 'ERRORED'
    assert dev('train', 'wait', 'cli-broken').returncode == exits.JOB_ERRORED


def test_following_the_log_of_a_running_trial(dev, iris_data, tmp_path):
    (tmp_path / 'chatty.py').write_text(CHATTY)
    dev.ok('models', 'upload', 'cli-chatty', str(tmp_path / 'chatty.py'), '--task', TASK, '--class', 'Chatty')
    dev.ok('train', 'create', 'cli-follow', '--train-dataset', 'cli-iris-train', '--val-dataset', 'cli-iris-val',
           '--model', 'cli-chatty', '--trials', '1', '--time-hours', '0.05', '--detach')
    running = wait_until(lambda: [t for t in dev.json('trials', 'list', 'cli-follow') if t['status'] == 'RUNNING'],
                         timeout=60)
    assert running, 'no trial started'
    followed = dev.ok('trials', 'logs', running[0]['id'], '--follow', '--interval', '0.2')
    epochs = [line.rsplit('  ', 1)[1] for line in followed.splitlines() if line.endswith(' done')]
    assert epochs == [f'epoch {n} done' for n in range(20)]             # every line once, in order, to the end
    assert sum('metric' in line and 'loss=' in line for line in followed.splitlines()) == 20
    assert dev.json('trials', 'show', running[0]['id'])['status'] == 'COMPLETED'
    stream = dev('trials', 'logs', running[0]['id'], '--follow', '--json')
    assert json.loads(stream.stdout.splitlines()[0])['last_id'] > 0       # one JSON object per line
    dev.ok('train', 'wait', 'cli-follow')


def test_users_datasets_templates_and_stopping_a_job(stack, dev, iris_data, iris, tmp_path):
    admin = Cli(stack, tmp_path / 'admin-config')
    admin.ok('login', stack['email'], '--password-stdin', input=stack['password'] + '\n')
    made = admin.json('users', 'create', 'cli-other@example.com', '--type', 'APP_DEVELOPER', '--password-stdin',
                      input=PASSWORD + '\n')
    assert made['user_type'] == 'APP_DEVELOPER'
    assert 'cli-other@example.com' in [u['email'] for u in admin.json('users', 'list')]
    assert admin.json('users', 'ban', 'cli-other@example.com')['banned_at']
    other = Cli(stack, tmp_path / 'other-config')
    banned = other('login', 'cli-other@example.com', '--password-stdin', '--json', input=PASSWORD + '\n')
    assert failed(banned, exits.UNAUTHENTICATED)['message'] == 'this user is banned'
    assert admin.json('users', 'unban', 'cli-other@example.com')['banned_at'] is None
    admin.ok('users', 'reset-password', 'cli-other@example.com', '--password-stdin', input='sienna-otter-77\n')
    other.ok('login', 'cli-other@example.com', '--password-stdin', input='sienna-otter-77\n')
    other.ok('users', 'change-password', '--password-stdin', input='sienna-otter-77\nindigo-heron-42\n')
    other.ok('login', 'cli-other@example.com', '--password-stdin', input='indigo-heron-42\n')
    assert failed(admin('users', 'ban', 'nobody@example.com', '--json'), exits.NOT_FOUND)

    spare = dev.json('datasets', 'upload', 'cli-spare', iris['test'], '--task', TASK)
    assert dev.json('datasets', 'show', 'cli-spare')['stat']['rows'] == spare['stat']['rows'] > 0
    assert dev.json('datasets', 'delete', spare['id'])['deleted']
    assert failed(dev('datasets', 'show', 'cli-spare', '--json'), exits.NOT_FOUND)['resource'] == 'dataset'
    tree = dev.json('models', 'show', 'cli-tree')
    assert tree['id'] == iris_data['tree'] and {k['name'] for k in tree['knob_config']['knobs']} >= {'max_depth', 'criterion'}
    dev.ok('models', 'download', 'cli-tree', '-o', str(tmp_path / 'tree.py'))
    with open(TREE, 'rb') as original:
        assert (tmp_path / 'tree.py').read_bytes() == original.read()

    dev.ok('train', 'create', 'cli-stop', '--train-dataset', 'cli-iris-train', '--val-dataset', 'cli-iris-val',
           '--model', 'cli-tree', '--time-hours', '1', '--detach')
    assert dev.json('train', 'stop', 'cli-stop')['status'] in ('STOPPING', 'STOPPED')
    assert dev.json('train', 'wait', 'cli-stop', '--timeout', '60')['status'] == 'STOPPED'
    admin.ok('logout')
