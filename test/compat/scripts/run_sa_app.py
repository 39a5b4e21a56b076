"""A client script written the way SingaAuto's examples/scripts are (quickstart.py,
run_tabular_regression.py): ``Client()`` finds the admin through ``SINGA_AUTO_ADDR`` and
``ADMIN_EXT_PORT``, logs in as ``SUPERADMIN_EMAIL`` with the password from ``SUPERADMIN_PASSWORD``,
uploads datasets and a template with SingaAuto's positional arguments, trains with a budget of
``BudgetOption`` keys, polls until the job stops, deploys, polls ``get_running_inference_job`` for
its ``predictor_host`` and posts each query to ``http://{predictor_host}/predict`` without a key.
A test fixture; the last line it prints is a JSON summary for the test to check."""
import argparse
import json
import os
import random
import string
import time
from importlib.metadata import version
from pprint import pprint

import numpy as np
import requests

from singa_auto.client import Client
from singa_auto.config import SUPERADMIN_EMAIL
from singa_auto.constants import (BudgetOption, InferenceJobStatus, ModelAccessRight, ModelDependency, ModelType,
                                  TrainJobStatus)
from singa_auto.model import utils


def gen_id(length=8):
    return ''.join(random.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def wait_until_train_job_has_stopped(client, app, timeout=60 * 10, tick=2):
    length = 0
    while True:
        train_job = client.get_train_job(app)
        status = train_job['status']
        if status == TrainJobStatus.ERRORED:
            raise Exception('Train job has errored.')
        elif status == TrainJobStatus.STOPPED:
            return
        if timeout is not None and length >= timeout:
            raise TimeoutError('Train job is running for too long')
        length += tick
        time.sleep(tick)


def get_predictor_host(client, app):
    while True:
        inference_job = client.get_running_inference_job(app)
        status = inference_job.get('status')
        if status == InferenceJobStatus.RUNNING:
            return inference_job.get('predictor_host')
        elif status in (InferenceJobStatus.ERRORED, InferenceJobStatus.STOPPED):
            return None
        time.sleep(1)


def make_predictions(client, predictor_host, queries):
    predictions = []
    for query in queries:
        res = requests.post(url='http://{}/predict'.format(predictor_host), json={'query': query})
        if res.status_code != 200:
            raise Exception(res.text)
        predictions.append(res.json()['prediction'])
    return predictions


def run(client, task, train_dataset_path, val_dataset_path, model_file_path, model_class, trials, hours,
        features=None, target=None, queries=None):
    app_id = gen_id()
    app = '{}_app_{}'.format(model_class.lower(), app_id)
    model_name = '{}_{}'.format(model_class, app_id)

    print('Creating & uploading datasets onto SINGA-Auto...')
    train_dataset = client.create_dataset('{}_train'.format(app), task, train_dataset_path)
    pprint(train_dataset)
    val_dataset = client.create_dataset('{}_val'.format(app), task, val_dataset_path)

    print('Adding model "{}" to SINGA-Auto...'.format(model_name))
    model = client.create_model(model_name, task, model_file_path, model_class, None,
                                {ModelDependency.SCIKIT_LEARN: version('scikit-learn')}, ModelAccessRight.PRIVATE,
                                model_type=ModelType.PYTHON_FILE)
    pprint(model)

    print('Creating train job for app "{}" on SINGA-Auto...'.format(app))
    budget = {BudgetOption.TIME_HOURS: hours, BudgetOption.MODEL_TRIAL_COUNT: trials}
    train_args = {'features': features, 'target': target} if task.startswith('TABULAR') else None
    train_job = client.create_train_job(app, task, train_dataset['id'], val_dataset['id'], budget,
                                        models=[model['id']], train_args=train_args)
    pprint(train_job)

    print('Waiting for train job to complete...')
    wait_until_train_job_has_stopped(client, app)
    print('Train job has been stopped')

    best_trials = client.get_best_trials_of_train_job(app)
    pprint(best_trials)
    best = client.get_trial(best_trials[0]['id'])
    logs = client.get_trial_logs(best['id'])
    params = client.get_trial_parameters(best['id'])

    print('Creating inference job for app "{}" on SINGA-Auto...'.format(app))
    pprint(client.create_inference_job(app))
    predictor_host = get_predictor_host(client, app)
    if not predictor_host:
        raise Exception('Inference job has errored or stopped')
    print('Inference job is running!')

    predictions = make_predictions(client, predictor_host, queries)
    print('Predictions are:')
    print(predictions)

    stopped = client.stop_inference_job(app)
    pprint(stopped)
    return {'app': app, 'model_user_id': model['user_id'], 'model_dependencies': model['dependencies'],
            'train_job_datetime_started': train_job['datetime_started'],
            'best_knobs': best['proposal']['knobs'], 'best_score': best['score'],
            'trial_datetime_started': best['datetime_started'], 'trial_datetime_stopped': best['datetime_stopped'],
            'messages': [m['message'] for m in logs['messages']], 'params': sorted(params),
            'target_param': params.get('target', 'absent'), 'predictor_host': predictor_host,
            'predictions': predictions, 'stopped_status': stopped['status']}


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--email', type=str, default=SUPERADMIN_EMAIL, help='Email of user')
    parser.add_argument('--password', type=str, default=os.environ.get('SUPERADMIN_PASSWORD'),
                        help='Password of user')
    parser.add_argument('--task', type=str, required=True)
    parser.add_argument('--train_path', type=str, required=True)
    parser.add_argument('--val_path', type=str, required=True)
    parser.add_argument('--model_file', type=str, required=True)
    parser.add_argument('--model_class', type=str, required=True)
    parser.add_argument('--trials', type=int, default=2)
    parser.add_argument('--hours', type=float, default=0.1)
    parser.add_argument('--features', type=str, default=None, help='Feature columns, comma separated')
    parser.add_argument('--target', type=str, default=None, help='Target column')
    parser.add_argument('--query_path', type=str, default=None, help='Image file(s), comma separated')
    parser.add_argument('--queries', type=str, default=None, help='Queries as JSON')
    (args, _) = parser.parse_known_args()

    if args.query_path:
        queries = [np.asarray(image).tolist() for image in utils.dataset.load_images(args.query_path.split(','),
                                                                                    mode='L')]
    else:
        queries = json.loads(args.queries)

    client = Client()
    client.login(email=args.email, password=args.password)
    summary = run(client, args.task, args.train_path, args.val_path, args.model_file, args.model_class,
                  args.trials, args.hours, args.features.split(',') if args.features else None, args.target,
                  queries)
    print(json.dumps(summary))
