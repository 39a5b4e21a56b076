"""The original SingaAuto's serving contract through the real platform (the admin app, real
predictor and inference worker processes, the session's PostgreSQL and Redis): its predictor's
``POST /`` against a trained image job, and checkpoint inference jobs, a template uploaded with
trained parameters and deployed with no train job, answering as the job whose trial trained them.
The image template is written as SingaAuto users write theirs (test/compat/templates)."""
import base64
import io
import json
import os
import zipfile

import msgpack
import numpy as np
import pytest
import requests
from PIL import Image

from platform_harness import running_platform
from singa.param_store import codec, make_param_store

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
IMAGE_TEMPLATE = os.path.join(REPO, 'test', 'compat', 'templates', 'SaImageTree.py')

# Every knob fixed: deployable from a checkpoint as it is. It answers what it was given.
FIXED = '''
import base64
from singa.model import BaseModel, FixedKnob

class Fixed(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"scale": FixedKnob(2)}

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self.scale = knobs["scale"]

    def train(self, dataset_path, **kwargs):
        pass

    def evaluate(self, dataset_path):
        return 0.0

    def predict(self, queries):
        return [{"w": (self.params["w"] * self.scale).tolist(), "bias": self.params["bias"],
                 "name": self.params["name"], "query": q} for q in queries]

    def dump_parameters(self):
        return self.params

    def load_parameters(self, params):
        self.params = params
'''


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch, predictor_timeout_seconds=10.0)


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    from examples.datasets.build import build
    paths = build('digits_images', str(tmp_path_factory.mktemp('digits')))
    with zipfile.ZipFile(paths['test']) as z:
        rows = z.read('images.csv').decode().splitlines()[1:4]
        paths['queries'] = [z.read(row.split(',')[0]) for row in rows]
    return paths


def _upload(platform, user, name, source, model_class, task, checkpoint=None, checkpoint_name='ckpt'):
    form = {'name': name, 'task': task, 'model_class': model_class,
            'model_file_bytes': (io.BytesIO(source), f'{model_class}.py')}
    if checkpoint is not None:
        form['checkpoint_id'] = (io.BytesIO(checkpoint), checkpoint_name)
    return platform.call('POST', '/models', user, data=form)


def _running(platform, user, app, version=-1):
    def check():
        job = platform.call('GET', f'/inference_jobs/{app}/{version}', user)
        assert job['status'] in ('STARTED', 'RUNNING'), (job, platform.worker_logs())
        return job if job['status'] == 'RUNNING' else None
    return platform.wait_for(check, timeout=90, what=f'inference job {app} RUNNING')


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.allclose(a, b)


def _pixels(png: bytes) -> list:
    return np.asarray(Image.open(io.BytesIO(png))).tolist()


def test_post_slash_and_a_checkpoint_job_of_a_trained_trial(platform, digits):
    dev = platform.make_user('dev')
    train_id = platform.upload_dataset(dev, digits['train'], task='IMAGE_CLASSIFICATION')
    val_id = platform.upload_dataset(dev, digits['val'], task='IMAGE_CLASSIFICATION')
    with open(IMAGE_TEMPLATE, 'rb') as f:
        source = f.read()
    model = _upload(platform, dev, 'tree', source, 'SaImageTree', 'IMAGE_CLASSIFICATION')
    assert model['has_checkpoint'] is False
    platform.call('POST', '/train_jobs', dev, json={
        'app': 'digits', 'task': 'IMAGE_CLASSIFICATION', 'train_dataset_id': train_id, 'val_dataset_id': val_id,
        'budget': {'MODEL_TRIAL_COUNT': 2}, 'model_ids': [model['id']]})
    assert platform.wait_job(dev, 'digits', timeout=180)['status'] == 'STOPPED'
    platform.call('POST', '/inference_jobs', dev, json={'app': 'digits'})
    job = _running(platform, dev, 'digits')
    key = platform.call('POST', '/inference_jobs/digits/-1/keys', dev, json={'name': 'app'})['key']
    headers = {'Authorization': f'Bearer {key}'}
    url = job['predictor_url']

    # POST / with images, each one query, answers the list of predictions ...
    files = [('img', (f'{i}.png', png, 'image/png')) for i, png in enumerate(digits['queries'])]
    assert requests.post(url + '/', files=files, timeout=20).status_code == 401       # the same keys
    answer = requests.post(url + '/', files=files, headers=headers, timeout=20)
    assert answer.status_code == 200, answer.text
    by_images = answer.json()
    assert len(by_images) == 3 and all(len(p) == 10 and abs(sum(p) - 1) < 1e-6 for p in by_images)
    # ... the same as /predict given the decoded pixels, and as POST / given one of them as JSON
    pixels = [_pixels(png) for png in digits['queries']]
    assert np.array(pixels[0]).shape == (8, 8)
    by_predict = requests.post(url + '/predict', json={'queries': pixels}, headers=headers, timeout=20).json()
    assert _close(by_predict['predictions'], by_images)
    assert _close(requests.post(url + '/', json=pixels[1], headers=headers, timeout=20).json(), [by_images[1]])
    bad = requests.post(url + '/', files=[('img', ('x.png', b'not a png', 'image/png'))], headers=headers, timeout=20)
    assert bad.status_code == 400 and 'x.png' in bad.json()['error']['message']

    # The best trial's parameters, as the client downloads them, become a checkpoint.
    best = platform.call('GET', '/train_jobs/digits/-1/trials?type=best&max_count=1', dev)[0]
    assert job['workers'][0]['trial_id'] == best['id']
    params = platform.call('GET', f'/trials/{best["id"]}/parameters', dev)
    assert set(codec.decode_params(params)) == {'clf_base64', 'image_size'}
    saved = _upload(platform, dev, 'tree-ckpt', source, 'SaImageTree', 'IMAGE_CLASSIFICATION', checkpoint=params,
                    checkpoint_name=f'{best["id"]}.params')
    assert saved['has_checkpoint'] and saved['checkpoint_bytes'] == len(params)

    # Its knobs are not all fixed: they must be given, and be ones it can take.
    refused = platform.call('POST', '/inference_jobs/checkpoint', dev, expect=400, json={'model_name': 'tree-ckpt'})
    assert refused['error']['type'] == 'InvalidKnobError' and 'classifier' in refused['error']['message']
    wrong = dict(best['knobs'], classifier='forest')
    refused = platform.call('POST', '/inference_jobs/checkpoint', dev, expect=400,
                            json={'model_name': 'tree-ckpt', 'knobs': wrong})
    assert "knob 'classifier'" in refused['error']['message']
    refused = platform.call('POST', '/inference_jobs/checkpoint', dev, expect=409, json={'model_name': 'tree'})
    assert 'without trained parameters' in refused['error']['message']
    platform.call('POST', '/inference_jobs/checkpoint', dev, expect=404, json={'model_name': 'nothing'})

    created = platform.call('POST', '/inference_jobs/checkpoint', dev, json={
        'model_name': 'tree-ckpt', 'knobs': best['knobs'], 'is_public': True, 'description': 'from a trial'})
    assert (created['app'], created['app_version'], created['train_job_id']) == ('tree-ckpt', 1, None)
    assert created['model_id'] == saved['id'] and created['workers'][0]['trial_id'] is None
    platform.call('POST', '/inference_jobs/checkpoint', dev, expect=409, json={
        'model_name': 'tree-ckpt', 'knobs': best['knobs']})                      # one live job per template
    checkpoint_job = _running(platform, dev, 'tree-ckpt', 1)
    answer = requests.post(checkpoint_job['predictor_url'] + '/', files=files, timeout=20)
    assert answer.status_code == 200 and _close(answer.json(), by_images)     # the same model

    # Listed and stopped like any inference job, the template in use meanwhile.
    listed = {(j['app'], j['status']) for j in platform.call('GET', '/inference_jobs', dev)}
    assert listed == {('digits', 'RUNNING'), ('tree-ckpt', 'RUNNING')}
    assert [j['id'] for j in platform.call('GET', '/inference_jobs/tree-ckpt', dev)] == [created['id']]
    platform.call('DELETE', f'/models/{saved["id"]}', dev, expect=409)
    stopped = platform.call('POST', '/inference_jobs/tree-ckpt/1/stop', dev)
    assert stopped['status'] == 'STOPPED'
    platform.wait_for(lambda: not platform.live_services(created['id']), timeout=20, what='services removed')
    assert platform.call('GET', '/inference_jobs/digits/-1', dev)['status'] == 'RUNNING'
    platform.call('DELETE', f'/models/{saved["id"]}', dev)           # soft-deleted; its checkpoint removed
    with platform.meta_store.transaction() as cur:
        cur.execute('SELECT checkpoint_params_id FROM models WHERE id = %s', (saved['id'],))
        assert not make_param_store(platform.settings).exists(cur.fetchone()['checkpoint_params_id'])


def test_singa_auto_checkpoint_formats(platform):
    """A SingaAuto .model file (msgpack, arrays under NP//) deploys a FixedKnob-only template with no
    knobs given; a zip and any other file become zip_file_base64 and weight_base64; nothing that
    would need pickle, nor a broken file, is taken."""
    dev = platform.make_user('dev')
    model_file = msgpack.packb({'NP//w': [[1, 2], [3, 4]], 'bias': 0.5, 'name': 'sa'}, use_bin_type=True)
    saved = _upload(platform, dev, 'fixed', FIXED.encode(), 'Fixed', 'TABULAR_REGRESSION', checkpoint=model_file,
                    checkpoint_name='Fixed_0b6c.model')
    store = make_param_store(platform.settings)

    def stored(model_id):
        with platform.meta_store.transaction() as cur:
            cur.execute('SELECT checkpoint_params_id FROM models WHERE id = %s', (model_id,))
            return store.load(cur.fetchone()['checkpoint_params_id'])

    params = stored(saved['id'])
    assert params['w'].tolist() == [[1, 2], [3, 4]] and params['bias'] == 0.5 and params['name'] == 'sa'
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as z:
        z.writestr('weights/model.bin', b'\x00\x01')
    zipped = _upload(platform, dev, 'zipped', FIXED.encode(), 'Fixed', 'TABULAR_REGRESSION',
                     checkpoint=archive.getvalue(), checkpoint_name='weights.zip')
    assert base64.b64decode(stored(zipped['id'])['zip_file_base64']) == archive.getvalue()
    other = _upload(platform, dev, 'other', FIXED.encode(), 'Fixed', 'TABULAR_REGRESSION',
                    checkpoint=b'\x89weights', checkpoint_name='model.pth')
    assert stored(other['id']) == {'weight_base64': base64.b64encode(b'\x89weights').decode()}
    for name, data, message in (
            ('nested.model', msgpack.packb({'layers': {'a': 1}}), 'the checkpoint holds what this platform'),
            ('ext.model', msgpack.packb({'x': msgpack.ExtType(1, b'py-object')}), 'the checkpoint holds what'),
            ('broken.model', b'\xc1\xc1', 'is not a SingaAuto parameter file (msgpack)'),
            ('ours.params', codec.encode_params({'a': 1})[:-30], 'not a SingaAuto parameter file')):
        form = {'name': f'bad-{name}', 'task': 'TABULAR_REGRESSION', 'model_class': 'Fixed',
                'model_file_bytes': (io.BytesIO(FIXED.encode()), 'fixed.py'), 'checkpoint_id': (io.BytesIO(data), name)}
        refused = platform.call('POST', '/models', dev, expect=400, data=form)
        assert refused['error']['type'] == 'InvalidParamsError' and message in refused['error']['message'], refused

    job = platform.call('POST', '/inference_jobs/checkpoint', dev, json={'model_name': 'fixed'})
    assert job['workers'][0]['model_id'] == saved['id']
    job = _running(platform, dev, 'fixed', 1)
    key = platform.call('POST', '/inference_jobs/fixed/1/keys', dev, json={'name': 'app'})['key']
    answer = requests.post(job['predictor_url'] + '/', json={'x': 1}, timeout=20,
                           headers={'Authorization': f'Bearer {key}'})
    assert answer.status_code == 200, answer.text
    assert answer.json() == [{'w': [[2, 4], [6, 8]], 'bias': 0.5, 'name': 'sa', 'query': {'x': 1}}]
    proxied = platform.call('POST', '/inference_jobs/fixed/1/predict', dev, json={'query': [1]})
    assert proxied['prediction']['query'] == [1] and proxied['models'][0]['model_name'] == 'fixed'
    events = platform.call('GET', f'/events?job_id={job["id"]}&order=asc', dev)
    assert [e['kind'] for e in events][:2] == ['inference_job_created', 'inference_job_ready']
    assert json.dumps(events[0]['data']).count(saved['id']) == 1
