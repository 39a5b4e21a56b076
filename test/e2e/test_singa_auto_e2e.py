"""A SingaAuto user's templates and client script, unchanged, against ``singa up``: the script
(test/compat/scripts/run_sa_app.py, written as SingaAuto's examples/scripts are) finds the admin
through ``SINGA_AUTO_ADDR`` / ``ADMIN_EXT_PORT``, uploads, trains, deploys and queries the
predictor at ``http://{predictor_host}/predict``. Three apps: an image classifier built on
``utils.dataset``, a tabular template that dumps ``target=None``, and the same template on a CSV
whose target is not its last column (whose last column has gaps), named by ``train_args``."""
import csv
import json
import os
import random
import subprocess
import sys
import zipfile

import pytest

import msgpack
import requests

from singa.errors import ForbiddenError, InvalidRequestError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPAT = os.path.join(REPO, 'test', 'compat')
SCRIPT = os.path.join(COMPAT, 'scripts', 'run_sa_app.py')


@pytest.fixture(scope='module')
def workdir(tmp_path_factory):
    from examples.datasets.build import build
    root = tmp_path_factory.mktemp('singa-auto-user')
    data = root / 'data'
    build('iris', str(data))
    paths = build('digits_images', str(data))
    with zipfile.ZipFile(paths['test']) as z:
        rows = z.read('images.csv').decode().splitlines()[1:3]
        for i, row in enumerate(rows):
            (data / f'query_{i}.png').write_bytes(z.read(row.split(',')[0]))
    (data / 'query_classes.json').write_text(json.dumps([int(row.split(',')[1]) for row in rows]))
    rng = random.Random(0)
    for part, n in (('train', 150), ('val', 50)):
        with open(data / f'passengers_{part}.csv', 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['age', 'survived', 'fare', 'embarked'])
            for _ in range(n):
                age, fare = rng.uniform(1, 80), rng.uniform(5, 100)
                writer.writerow([round(age, 1), int(fare > 50 or age < 12), round(fare, 2),
                                 rng.choice(['S', 'C', 'Q', ''])])
    return root


def run_script(stack, workdir, *args) -> dict:
    env = {k: v for k, v in stack['env'].items() if not k.startswith('SINGA_')}
    env.update(SINGA_AUTO_ADDR=stack['host'], ADMIN_EXT_PORT=str(stack['port']), SUPERADMIN_PASSWORD=stack['password'])
    done = subprocess.run([sys.executable, SCRIPT, *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_common(summary: dict) -> None:
    assert summary['model_dependencies'][0].startswith('scikit-learn==')     # 6th positional: dependencies
    assert summary['model_user_id'] and summary['train_job_datetime_started']
    assert summary['trial_datetime_started'] <= summary['trial_datetime_stopped']
    assert summary['predictor_host'].count(':') == 1 and summary['stopped_status'] == 'STOPPED'


def test_an_image_classifier_on_utils_dataset(stack, workdir):
    summary = run_script(stack, workdir, '--task', 'IMAGE_CLASSIFICATION', '--train_path',
                         'data/digits_images_train.zip', '--val_path', 'data/digits_images_val.zip', '--model_file',
                         os.path.join(COMPAT, 'templates', 'SaImageTree.py'), '--model_class', 'SaImageTree',
                         '--query_path', 'data/query_0.png,data/query_1.png', '--trials', '3')
    check_common(summary)
    assert set(summary['best_knobs']) == {'classifier', 'max_depth', 'C', 'max_image_size'}
    assert summary['best_score'] > 0.7 and summary['params'] == ['clf_base64', 'image_size']
    assert any(m.startswith('Train accuracy: ') for m in summary['messages'])
    expected = json.loads((workdir / 'data' / 'query_classes.json').read_text())
    assert [len(p) for p in summary['predictions']] == [10, 10]
    assert sum(p.index(max(p)) == c for p, c in zip(summary['predictions'], expected)) >= 1


def test_a_tabular_template_that_dumps_target_none(stack, workdir):
    query = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4, 'petal_width_cm': 0.2}
    summary = run_script(stack, workdir, '--task', 'TABULAR_CLASSIFICATION', '--train_path', 'data/iris_train.csv',
                         '--val_path', 'data/iris_val.csv', '--model_file',
                         os.path.join(COMPAT, 'templates', 'SaTabularKnn.py'), '--model_class', 'SaTabularKnn',
                         '--queries', json.dumps([query]))
    check_common(summary)
    assert summary['target_param'] is None        # dumped as None, stored, and given back as None
    assert summary['best_score'] > 0.8 and summary['predictions'][0].index(max(summary['predictions'][0])) == 0


def test_a_tabular_target_that_is_not_the_last_column(stack, workdir):
    summary = run_script(stack, workdir, '--task', 'TABULAR_CLASSIFICATION', '--train_path',
                         'data/passengers_train.csv', '--val_path', 'data/passengers_val.csv', '--model_file',
                         os.path.join(COMPAT, 'templates', 'SaTabularKnn.py'), '--model_class', 'SaTabularKnn',
                         '--features', 'age,fare', '--target', 'survived',
                         '--queries', json.dumps([{'age': 40, 'fare': 90}, {'age': 40, 'fare': 9}]))
    check_common(summary)
    assert summary['target_param'] == 'survived' and summary['best_score'] > 0.7
    assert [p.index(max(p)) for p in summary['predictions']] == [1, 0]


def test_what_differs_says_so(stack, workdir):
    from singa_auto.client import Client
    client = Client(admin_host=stack['host'], admin_port=stack['port'])
    client.login(stack['email'], stack['password'])
    train = client.create_dataset('passengers', 'TABULAR_CLASSIFICATION', str(workdir / 'data' / 'passengers_val.csv'))
    assert train['datetime_created'] and train['stat']['target'] is None       # its last column has gaps
    with pytest.raises(InvalidRequestError) as e:
        client.create_train_job('later', 'TABULAR_CLASSIFICATION', train['id'], train['id'], {'MODEL_TRIAL_COUNT': 1},
                                train['id'])
    assert e.value.status_code == 400 and e.value.field == 'annotation_dataset_id'
    with pytest.raises(InvalidRequestError) as e:
        client.create_train_job('later', 'TABULAR_CLASSIFICATION', train['id'], train['id'], {'MODEL_TRIAL_COUNT': 1})
    assert e.value.field == 'train_args' and "no value in the target column 'embarked'" in e.value.message
    with pytest.raises(ForbiddenError) as e:        # downloaded by the admin, never from its own network
        client.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url=f'http://127.0.0.1:{stack["port"]}/')
    assert e.value.status_code == 403 and e.value.field == 'dataset_url'
    with pytest.raises(InvalidRequestError, match="model_type is 'zip'"):
        client.create_model('m', 'TABULAR_CLASSIFICATION', SCRIPT, 'M', model_type='zip')


# A SingaAuto template whose only knob is fixed, as its checkpoint examples are: it loads the
# weights its .model file holds (SingaAuto's parameter store wrote them: msgpack, NP// arrays).
CHECKPOINTED = '''
import numpy as np
from singa_auto.model import BaseModel, FixedKnob

class SaLinear(BaseModel):
    @staticmethod
    def get_knob_config():
        return {'offset': FixedKnob(1.0)}

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._offset = knobs['offset']

    def train(self, dataset_path, **kwargs):
        pass

    def evaluate(self, dataset_path, **kwargs):
        return 0.0

    def predict(self, queries):
        return [float(np.dot(self._w, np.asarray(q, dtype=float)) + self._offset) for q in queries]

    def dump_parameters(self):
        return {'w': self._w}

    def load_parameters(self, params):
        self._w = params['w']
'''


def test_a_singa_auto_checkpoint_deployed_and_queried_as_singa_auto_did(stack, tmp_path):
    """model_preload_file_path, create_inference_job_by_checkpoint, and POST / on predictor_host."""
    from singa_auto.client import Client
    (tmp_path / 'SaLinear.py').write_text(CHECKPOINTED)
    (tmp_path / 'SaLinear_1.model').write_bytes(msgpack.packb({'NP//w': [1.0, 2.0, 3.0]}, use_bin_type=True))
    client = Client(admin_host=stack['host'], admin_port=stack['port'])
    client.login(stack['email'], stack['password'])
    model = client.create_model('sa_linear', 'TABULAR_REGRESSION', str(tmp_path / 'SaLinear.py'), 'SaLinear',
                                str(tmp_path / 'SaLinear_1.model'))
    assert model['checkpoint_id'] and model['user_id']
    job = client.create_inference_job_by_checkpoint('sa_linear')
    assert job['app'] == 'sa_linear' and job['train_job_id'] is None
    client.wait_until_inference_job_is_running('sa_linear')
    host = client.get_running_inference_job('sa_linear')['predictor_host']
    answer = requests.post(f'http://{host}/', json=[1, 1, 1], timeout=30)          # public, as SingaAuto's were
    assert answer.status_code == 200 and answer.json() == [7.0]
    assert requests.post(f'http://{host}/predict', json={'query': [0, 0, 1]}, timeout=30).json()['prediction'] == 4.0
    assert client.stop_inference_job('sa_linear')['status'] == 'STOPPED'
