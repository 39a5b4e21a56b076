"""The main job of SingaAuto, end to end, against a running platform (``scripts/quickstart.sh`` runs it).

    SINGA_SUPERADMIN_PASSWORD=... python -m examples.quickstart --admin http://127.0.0.1:3000 [--minutes 3]

The superadmin's password comes from the environment (``SINGA_SUPERADMIN_PASSWORD``), or is asked
for on a terminal: never from the command line, where any local user could read it in ``ps``.

1. logs in as the superadmin and creates (or reuses) a model developer;
2. builds the digits dataset (8x8 images as 64 pixel columns) from scikit-learn's copy, and uploads
   its train and validation splits;
3. uploads several example templates (decision tree, random forest, logistic regression, SVC, and
   the PyTorch MLP when torch is installed);
4. trains them all in parallel within the time budget, printing progress;
5. deploys the best trial of each template behind one predictor;
6. sends the held-out test split to the predictor and prints the ensemble's accuracy next to each
   template's best validation score and its own test accuracy.
The platform is left running; its URLs and an example ``curl`` (a real test row) are printed at
the end.
"""
import argparse
import csv
import getpass
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

from singa.client import Client
from singa.errors import ConflictError, UnauthenticatedError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(REPO, 'examples', 'models')
TASK = 'TABULAR_CLASSIFICATION'
TEMPLATES = [('quickstart-tree', 'sk_decision_tree.py', 'SkDecisionTree'),
             ('quickstart-forest', 'sk_random_forest.py', 'SkRandomForestClf'),
             ('quickstart-logreg', 'sk_logistic_regression.py', 'SkLogisticRegression'),
             ('quickstart-svc', 'sk_svc.py', 'SkSvc')]
TORCH_TEMPLATE = ('quickstart-mlp', 'torch_mlp.py', 'TorchMlpClf')
DEVELOPER = ('quickstart@singaauto.local', 'quickstart-password')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--admin', default='http://127.0.0.1:3000', help='the admin URL')
    parser.add_argument('--email', default='superadmin@singaauto')
    parser.add_argument('--minutes', type=float, default=3.0, help='the time budget of the train job')
    parser.add_argument('--app', default='digits')
    args = parser.parse_args()

    url = urllib.parse.urlparse(args.admin)
    superadmin = Client(admin_host=url.hostname, admin_port=url.port, scheme=url.scheme)
    superadmin.login(args.email, superadmin_password())
    client = Client(admin_host=url.hostname, admin_port=url.port, scheme=url.scheme)
    try:
        client.login(*DEVELOPER)
    except UnauthenticatedError:
        superadmin.create_user(DEVELOPER[0], DEVELOPER[1], 'MODEL_DEVELOPER')
        client.login(*DEVELOPER)

    with tempfile.TemporaryDirectory(prefix='singa-quickstart-') as data_dir:
        subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', data_dir, 'digits'], cwd=REPO,
                       check=True, capture_output=True)
        split = {s: os.path.join(data_dir, f'digits_{s}.csv') for s in ('train', 'val', 'test')}
        step('uploading the digits dataset (train and validation splits)')
        train = client.create_dataset('digits-train', TASK, split['train'])
        val = client.create_dataset('digits-val', TASK, split['val'])
        queries, labels = read_test_split(split['test'])
    print(f'    {train["stat"]["rows"]} training rows, {val["stat"]["rows"]} validation rows, '
          f'{train["stat"]["class_count"]} classes')

    templates = TEMPLATES + ([TORCH_TEMPLATE] if importlib.util.find_spec('torch') else [])
    step(f'uploading {len(templates)} model templates')
    available = {m['name']: m for m in client.get_available_models(TASK)}
    model_ids = []
    for name, file_name, cls in templates:
        model = available.get(name)
        if model is None:
            try:
                model = client.create_model(name, TASK, os.path.join(MODELS, file_name), cls)
            except ConflictError:
                model = next(m for m in client.get_available_models(TASK) if m['name'] == name)
        model_ids.append(model['id'])
        knobs = ', '.join(k['name'] for k in model['knob_config']['knobs'])
        print(f'    {name:<20} {cls:<22} knobs: {knobs}')

    step(f'training every template in parallel for {args.minutes:g} minute' + ('' if args.minutes == 1 else 's'))
    job = client.create_train_job(args.app, TASK, train['id'], val['id'], models=model_ids,
                                  budget={'TIME_HOURS': args.minutes / 60})
    job = client.wait_until_train_job_has_stopped(args.app, job['app_version'], interval=5)
    if job['status'] != 'STOPPED':
        sys.exit(f'the train job ended {job["status"]}: {job["error"]}')

    step('deploying the best trial of each template behind one predictor')
    client.create_inference_job(args.app, job['app_version'])
    inference = client.wait_until_inference_job_is_running(args.app, job['app_version'])
    key = client.create_prediction_key(args.app, job['app_version'], name='quickstart')['key']

    step('asking the predictor about the held-out test split')
    answer = client.predict(args.app, queries, job['app_version'], prediction_key=key,
                            predictor_url=inference['predictor_url'], details=True)
    report(job, answer, labels)

    print('\nSingaAuto keeps running:')
    print(f'  admin:      {args.admin}   (superadmin {args.email})')
    print(f'  predictor:  {inference["predictor_url"]}/predict   (header "Authorization: Bearer {key}")')
    body = json.dumps({'query': queries[0]}, separators=(',', ':'))
    print(f'  example:    (the first test row, all {len(queries[0])} features; a query lacking any gets a 400)')
    print(f'    curl -s -X POST {inference["predictor_url"]}/predict -H "Authorization: Bearer {key}" '
          f"-H 'Content-Type: application/json' -d '{body}'")
    print('  stop it:    scripts/quickstart.sh --down')


def superadmin_password() -> str:
    password = os.environ.get('SINGA_SUPERADMIN_PASSWORD')
    if password:
        return password
    if sys.stdin.isatty():
        return getpass.getpass("the superadmin's password: ")
    sys.exit("set SINGA_SUPERADMIN_PASSWORD to the superadmin's password (singa up prints it)")


def step(text: str) -> None:
    print(f'\n==> {text}', flush=True)


def read_test_split(path: str) -> tuple[list, list]:
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in row.items() if k != 'target'} for row in rows], [int(r['target']) for r in rows]


def accuracy(predictions: list, labels: list) -> float:
    hits = [p is not None and max(range(len(p)), key=p.__getitem__) == y for p, y in zip(predictions, labels)]
    return sum(hits) / len(labels)


def report(job: dict, answer: dict, labels: list) -> None:
    by_name = {p['model_name']: p['predictions'] for p in answer['model_predictions']}
    print(f'\n    {"template":<20} {"trials":>7} {"best validation":>16} {"test accuracy":>14}')
    for sub in sorted(job['sub_train_jobs'], key=lambda s: -(s['best_score'] or 0)):
        test = accuracy(by_name[sub['model_name']], labels) if sub['model_name'] in by_name else None
        best = '-' if sub['best_score'] is None else f'{sub["best_score"]:.4f}'
        print(f'    {sub["model_name"]:<20} {sum(sub["trials"].values()):>7} {best:>16} '
              f'{"-" if test is None else f"{test:.4f}":>14}')
    print(f'    {"ENSEMBLE":<20} {"":>7} {"":>16} {accuracy(answer["predictions"], labels):>14.4f}')
    print(f'    ({len(labels)} held-out test rows; answered by '
          f'{sum(m["answered"] for m in answer["models"])} of {len(answer["models"])} models)')


if __name__ == '__main__':
    main()
