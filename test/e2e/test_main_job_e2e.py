"""The main job through the client SDK against ``singa up``: train, load a trial, deploy, predict, stop."""
import os
import subprocess
import sys

import numpy as np

from singa.client import Client
from singa.errors import NotFoundError, SingaError
from singa.model.loader import load_model_class

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_train_deploy_predict_and_stop(stack, tmp_path):
    subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', str(tmp_path), 'wine'], cwd=REPO,
                   check=True, capture_output=True)
    admin = Client(admin_host=stack['host'], admin_port=stack['port'])
    admin.login(stack['email'], stack['password'])
    admin.create_user('e2e-dev@example.com', 'amber-walrus-5', 'MODEL_DEVELOPER')
    client = Client(admin_host=stack['host'], admin_port=stack['port'])
    client.login('e2e-dev@example.com', 'amber-walrus-5')

    train = client.create_dataset('wine-train', 'TABULAR_CLASSIFICATION', str(tmp_path / 'wine_train.csv'))
    val = client.create_dataset('wine-val', 'TABULAR_CLASSIFICATION', str(tmp_path / 'wine_val.csv'))
    models = [client.create_model(name, 'TABULAR_CLASSIFICATION', os.path.join(REPO, 'examples', 'models', path), cls)
              for name, path, cls in (('tree', 'sk_decision_tree.py', 'SkDecisionTree'),
                                      ('logreg', 'sk_logistic_regression.py', 'SkLogisticRegression'))]
    job = client.create_train_job('wine', 'TABULAR_CLASSIFICATION', train['id'], val['id'],
                                  budget={'MODEL_TRIAL_COUNT': 4, 'TIME_HOURS': 0.05}, models=[m['id'] for m in models],
                                  seed=0)
    assert job['app_version'] == 1
    job = client.wait_until_train_job_has_stopped('wine', timeout=120, interval=0.5, progress=False)
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 8

    best = client.get_best_trials_of_train_job('wine', max_count=2)
    # The best trial is within one validation example of the best score (a tie), not always at it.
    top = max(t['score'] for t in client.get_trials_of_train_job('wine') if t['score'] is not None)
    assert len(best) == 2 and best[0]['tied_with_best'] and best[0]['score'] >= top - 1 / val['stat']['rows'] - 1e-9
    assert min(t['score'] for t in best) > 0.8
    assert len(client.get_trials_of_train_job('wine')) == 8
    logs = client.get_trial_logs(best[0]['id'])
    assert logs['metrics'] and logs['messages']
    cls_name = {'tree': 'SkDecisionTree', 'logreg': 'SkLogisticRegression'}[best[0]['model_name']]
    path = os.path.join(REPO, 'examples', 'models',
                        {'SkDecisionTree': 'sk_decision_tree.py', 'SkLogisticRegression': 'sk_logistic_regression.py'}[cls_name])
    model = client.load_trial_model(best[0]['id'], load_model_class(path, cls_name))
    with open(tmp_path / 'wine_test.csv') as f:
        header, *rows = [line.strip().split(',') for line in f if line.strip()]
    queries = [{k: float(v) for k, v in zip(header[:-1], row[:-1])} for row in rows]
    labels = [int(row[-1]) for row in rows]
    probabilities = model.predict(queries[:1])
    assert len(probabilities[0]) == 3 and abs(sum(probabilities[0]) - 1) < 1e-6
    assert isinstance(client.get_trial_parameters(best[0]['id']), dict)
    assert [j['app'] for j in client.get_train_jobs_of_app('wine')] == ['wine']
    assert len(client.get_train_jobs_by_user()) == 1

    # Another user sees none of it, and gets the same error class the server raised.
    admin.create_user('e2e-other@example.com', 'amber-walrus-5', 'APP_DEVELOPER')
    other = Client(admin_host=stack['host'], admin_port=stack['port'])
    other.login('e2e-other@example.com', 'amber-walrus-5')
    for call in (lambda: other.get_train_job('wine'), lambda: other.get_trial(best[0]['id']),
                 lambda: other.get_trial_parameters(best[0]['id'])):
        try:
            call()
        except NotFoundError as e:
            assert e.status_code == 404
        else:
            raise AssertionError('another user could read the job')
    assert np.isfinite(job['best_score'])

    # Deploy the best trial of each template and predict, as the owner and as an application user.
    inference = client.create_inference_job('wine')
    assert inference['status'] == 'STARTED' and len(inference['workers']) == 2
    inference = client.wait_until_inference_job_is_running('wine', timeout=60)
    owner_answers = client.predict('wine', queries)
    accuracy = np.mean([int(np.argmax(p)) == y for p, y in zip(owner_answers, labels)])
    assert accuracy > 0.8   # 36 held-out rows, 4 trials per template
    key = client.create_prediction_key('wine', name='e2e')['key']
    app_user = Client(admin_host=stack['host'], admin_port=stack['port'])   # not logged in
    direct = app_user.predict('wine', queries[:5], prediction_key=key, predictor_url=inference['predictor_url'],
                              details=True)
    assert np.allclose(direct['predictions'], owner_answers[:5])
    assert all(m['answered'] for m in direct['models'])
    try:
        app_user.predict('wine', queries[:1], prediction_key='sk_wrong', predictor_url=inference['predictor_url'])
    except SingaError as e:
        assert e.status_code == 401
    else:
        raise AssertionError('a wrong prediction key was accepted')
    assert client.stop_inference_job('wine')['status'] == 'STOPPED'
    assert admin.stop_all_jobs() == {'train_jobs': [], 'inference_jobs': []}
