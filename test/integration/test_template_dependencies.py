"""Declared dependencies, through ``singa up`` and the client: a template that needs XGBoost, which
the platform does not ship, uploads, trains, deploys and answers; its environment is built once and
shared; what cannot be installed is a 400 with pip's reason; model code cannot change it.

The wheels come from wherever this machine's pip gets them (its index, or an offline wheelhouse).
"""
import concurrent.futures
import hashlib
import json
import os

import pytest

from local_stack import REPO, LocalStack
from singa.config import Settings
from singa.envs import prepare_env
from singa.errors import InvalidModelError
from singa.model.inspect import default_check_sandbox
from singa.sandbox import bubblewrap_works

XGB = os.path.join(REPO, 'examples', 'models', 'xgb_boosting.py')
DEPENDENCIES = ['xgboost-cpu>=2.1']
QUERY = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4, 'petal_width_cm': 0.2}

# The example template, after model code that tries to change its environment: at import, so in
# the upload check, in the train worker and in the inference worker alike.
TAMPERER = '''
import os as _os, xgboost as _xgb
_site = _os.path.dirname(_os.path.dirname(_xgb.__file__))
for _path in (_os.path.join(_site, "planted.pth"), _os.path.join(_os.path.dirname(_xgb.__file__), "__init__.py"),
              _os.path.join(_site, "..", "..", "..", "env.json")):
    try:
        with open(_path, "a") as _f:
            _f.write("import os\\n")
    except OSError:
        pass
    else:
        raise RuntimeError("the template environment is writable: " + _path)
'''


@pytest.fixture(scope='module')
def stack(tmp_path_factory, iris):
    assert bubblewrap_works(), 'bubblewrap cannot make a sandbox here (scripts/test.sh installs it)'
    stack = LocalStack(str(tmp_path_factory.mktemp('deps') / 'singa'), trial_lease_seconds=5)
    stack.up()
    try:
        dev = stack.user('dev')
        stack.datasets = (dev.create_dataset('iris-train', 'TABULAR_CLASSIFICATION', iris['train'])['id'],
                          dev.create_dataset('iris-val', 'TABULAR_CLASSIFICATION', iris['val'])['id'])
        stack.dev = dev
        yield stack
    finally:
        stack.down()


def _env_files(stack, key: str) -> dict:
    root = stack.path('storage', 'envs', key)
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            with open(path, 'rb') as f:
                found[os.path.relpath(path, root)] = (hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mode)
    return found


def test_a_template_that_needs_xgboost_trains_deploys_and_answers(stack, tmp_path):
    dev = stack.dev
    # Two templates declaring the same set (spelled otherwise), uploaded at once: one environment,
    # built once. The second also tries to change it at import: in its check, trial and serving.
    tamperer = tmp_path / 'tamperer.py'
    with open(XGB) as f:
        tamperer.write_text(TAMPERER + f.read())
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        uploads = [pool.submit(dev.create_model, 'xgb', 'TABULAR_CLASSIFICATION', XGB, 'XgbBoostingClf',
                               dependencies=DEPENDENCIES),
                   pool.submit(dev.create_model, 'xgb-tamperer', 'TABULAR_CLASSIFICATION', str(tamperer),
                               'XgbBoostingClf', dependencies={'XGBoost_CPU': '>=2.1'})]
        xgb, second = [upload.result() for upload in uploads]
    key = xgb['dependencies_env']
    assert key and second['dependencies_env'] == key and xgb['dependencies'] == DEPENDENCIES
    with open(stack.path('storage', 'logs', 'platform', 'admin-1.log'), errors='replace') as f:
        assert f.read().count(f'built the template environment {key}') == 1
    assert sorted(os.listdir(stack.path('storage', 'envs'))) == ['.build', '.locks', key]
    with open(stack.path('storage', 'envs', key, 'env.json')) as f:
        info = json.load(f)
    assert [p.split('==')[0] for p in info['packages']] == ['xgboost_cpu']     # numpy and scipy are the platform's
    files = _env_files(stack, key)
    assert all(mode & 0o022 == 0 for _, mode in files.values())

    train_id, val_id = stack.datasets
    dev.create_train_job('xgb-app', 'TABULAR_CLASSIFICATION', train_id, val_id,
                         budget={'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.05}, models=[xgb['id'], second['id']])
    job = dev.wait_until_train_job_has_stopped('xgb-app', timeout=240)
    trials = dev.get_trials_of_train_job('xgb-app')
    assert job['status'] == 'STOPPED' and [t['status'] for t in trials] == ['COMPLETED'] * 2, \
        [(t['status'], dev.get_trial_logs(t['id'])['messages'][-3:]) for t in trials]
    assert all(t['score'] > 0.8 for t in trials)
    logs = dev.get_trial_logs(trials[0]['id'])['messages']
    assert any(m['message'].startswith('Trained XGBoost 3.') for m in logs), logs

    dev.create_inference_job('xgb-app')
    dev.wait_until_inference_job_is_running('xgb-app', timeout=180)
    answer = dev.predict('xgb-app', [QUERY])
    assert len(answer) == 1 and len(answer[0]) == 3 and max(range(3), key=answer[0].__getitem__) == 0
    dev.stop_inference_job('xgb-app')
    # Neither the check, nor a trial, nor a served model changed the environment.
    assert _env_files(stack, key) == files


@pytest.mark.parametrize('dependencies, reason', [
    (['singa-no-such-package-3b1f'], 'No matching distribution found for singa-no-such-package-3b1f'),
    (['xgboost-cpu==0.0.1'], 'Could not find a version that satisfies the requirement xgboost-cpu==0.0.1'),
    (['numpy<2'], "'numpy<2' would replace numpy"),
    ({'scipy': '1.0.0'}, "'scipy==1.0.0' would replace scipy"),
])
def test_what_cannot_be_installed_is_a_400_with_pips_reason(stack, dependencies, reason):
    with pytest.raises(InvalidModelError) as refused:
        stack.dev.create_model('broken', 'TABULAR_CLASSIFICATION', XGB, 'XgbBoostingClf', dependencies=dependencies)
    assert refused.value.status_code == 400 and refused.value.field == 'dependencies'
    assert reason in refused.value.message, refused.value.message
    assert 'broken' not in [m['name'] for m in stack.dev.get_available_models()]


def test_a_worker_refuses_an_environment_that_is_gone(stack):
    dev = stack.dev
    model = dev.create_model('xgb-gone', 'TABULAR_CLASSIFICATION', XGB, 'XgbBoostingClf', dependencies=DEPENDENCIES)
    envs = stack.path('storage', 'envs')
    os.rename(os.path.join(envs, model['dependencies_env']), os.path.join(envs, 'moved-away'))
    try:
        train_id, val_id = stack.datasets
        dev.create_train_job('xgb-gone', 'TABULAR_CLASSIFICATION', train_id, val_id,
                             budget={'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.05}, models=[model['id']])
        dev.wait_until_train_job_has_stopped('xgb-gone', timeout=120)
        trial, = dev.get_trials_of_train_job('xgb-gone')
    finally:
        os.rename(os.path.join(envs, 'moved-away'), os.path.join(envs, model['dependencies_env']))
    assert trial['status'] == 'ERRORED', trial
    assert "the environment of the template's dependencies" in trial['error'] and 'missing' in trial['error']


@pytest.mark.parametrize('limits, message', [
    ({'dependency_max_mb': 1}, 'the wheels of the dependencies are over 1 MiB (SINGA_DEPENDENCY_MAX_MB)'),
    ({'dependency_timeout': 0.2}, 'resolving the dependencies ran out of time (SINGA_DEPENDENCY_TIMEOUT)'),
])
def test_resolving_is_bounded_in_size_and_time(tmp_path, limits, message):
    settings = Settings.from_env({}, storage_dir=str(tmp_path / 'storage'), **limits)
    with pytest.raises(InvalidModelError) as refused:
        prepare_env(settings, DEPENDENCIES, default_check_sandbox())
    assert message in refused.value.message
    assert os.listdir(tmp_path / 'storage' / 'envs' / '.build') == []      # nothing half-built is left
