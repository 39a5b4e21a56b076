"""Declared dependencies on a live Docker Swarm, started with scripts/start.sh: the XGBoost template
uploads (its environment resolved by the admin, installed in a throwaway container of the worker
image, checked with it), trains in a worker service that mounts the environment read-only, deploys
and answers; then the stack is purged."""
import json

import pytest

from swarm_stack import REPO, SwarmStack

pytestmark = pytest.mark.swarm

XGB = REPO / 'examples' / 'models' / 'xgb_boosting.py'
QUERY = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4, 'petal_width_cm': 0.2}


@pytest.fixture(scope='module')
def stack(singa_images, swarm, tmp_path_factory):
    stack = SwarmStack.new(singa_images, tmp_path_factory.mktemp('swarm-deps'), trial_lease_seconds=5,
                           reconcile_interval=1, predictor_port_min=32300, predictor_port_max=32399,
                           stop_timeout=30)
    yield stack
    stack.stop(purge=True)


def test_an_xgboost_template_trains_and_serves_on_the_swarm(stack, iris):
    stack.start()
    stack.client().create_user('dev@example.com', 'amber-walrus-5', 'MODEL_DEVELOPER')
    dev = stack.client('dev@example.com', 'amber-walrus-5')
    train = dev.create_dataset('iris-train', 'TABULAR_CLASSIFICATION', iris['train'])
    val = dev.create_dataset('iris-val', 'TABULAR_CLASSIFICATION', iris['val'])
    model = dev.create_model('xgb', 'TABULAR_CLASSIFICATION', str(XGB), 'XgbBoostingClf',
                             dependencies=['xgboost-cpu>=2.1'])
    key = model['dependencies_env']
    info = json.loads((stack.home / 'storage' / 'envs' / key / 'env.json').read_text())
    assert [p.split('==')[0] for p in info['packages']] == ['xgboost_cpu']
    assert info['python'] == '3.11' and info['sites'] == ['lib/python3.11/site-packages']

    dev.create_train_job('xgb', 'TABULAR_CLASSIFICATION', train['id'], val['id'],
                         budget={'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.1}, models=[model['id']])
    job = dev.wait_until_train_job_has_stopped('xgb', timeout=240, interval=1, progress=False)
    trials = dev.get_trials_of_train_job('xgb')
    assert job['status'] == 'STOPPED' and [t['status'] for t in trials] == ['COMPLETED'] * 2, \
        [(t['status'], dev.get_trial_logs(t['id'])['messages'][-3:]) for t in trials]
    messages = [m['message'] for m in dev.get_trial_logs(trials[0]['id'])['messages']]
    assert any(m.startswith('Trained XGBoost 3.') for m in messages), messages

    dev.create_inference_job('xgb')
    dev.wait_until_inference_job_is_running('xgb', timeout=180)
    answer = dev.predict('xgb', [QUERY])
    assert len(answer[0]) == 3 and max(range(3), key=answer[0].__getitem__) == 0
    dev.stop_inference_job('xgb')
