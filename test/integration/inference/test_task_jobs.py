"""POS_TAGGING and IMAGE_DETECTION through the whole platform: the generated example datasets are
uploaded (and malformed ones refused with a 400 that says why), the example templates train in
real jobs in the sandbox, two models of each are deployed behind a predictor, which answers good
queries with the task's ensemble and refuses malformed ones at its edge."""
import os
import shutil
import zipfile

import pytest
import requests

from examples.datasets.build import build
from platform_harness import EXAMPLES, running_platform
from singa.model import load_corpus_dataset, load_detection_dataset
from singa.model.dataset import average_precision

POS_TAGGER = os.path.join(EXAMPLES, 'models', 'sk_pos_tagger.py')
DETECTOR = os.path.join(EXAMPLES, 'models', 'torch_detector.py')
SA_HMM = os.path.join(os.path.dirname(EXAMPLES), 'test', 'compat', 'templates', 'SaBigramHmm.py')


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('generated'))
    return {name: build(name, out) for name in ('pos_corpus', 'shapes')}


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch, predictor_timeout_seconds=20.0)


def _refused_upload(platform, user, path, task) -> str:
    with open(path, 'rb') as f:
        error = platform.call('POST', '/datasets', user, expect=400, data={
            'name': 'bad', 'task': task, 'dataset': (f, os.path.basename(path))})['error']
    assert error['type'] == 'InvalidDatasetError' and error['field'] == 'dataset'
    return error['message']


def _rewrite_zip(source, target, change) -> str:
    """A copy of the zip ``source`` whose members pass through ``change(name, data) -> data``
    (``None`` leaves a member out)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, 'w') as dst:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                dst.writestr(name, data)
    return str(target)


def _two_models(platform, user, template, cls, task, tmp_path) -> list:
    """The template uploaded twice (two names): a train job tunes each, an inference job serves both."""
    second = tmp_path / f'second_{os.path.basename(template)}'
    shutil.copy(template, second)
    return [platform.upload_model(user, template, cls, task=task), platform.upload_model(user, str(second), cls,
                                                                                          task=task)]


def _train_and_deploy(platform, user, app, task, data, models, train_args=None) -> tuple[str, dict]:
    train_id = platform.upload_dataset(user, data['train'], task)
    val_id = platform.upload_dataset(user, data['val'], task)
    platform.create_job(user, app, train_id, val_id, models, {'MODEL_TRIAL_COUNT': 1}, task=task,
                        train_args=train_args or {})
    assert platform.wait_job(user, app, timeout=300)['status'] == 'STOPPED'
    trials = platform.trials(user, app)
    assert len(trials) == 2 and all(t['status'] == 'COMPLETED' for t in trials), trials
    platform.call('POST', '/inference_jobs', user, json={'app': app})
    job = platform.wait_for(lambda: _running(platform, user, app), timeout=90, what='inference job RUNNING')
    key = platform.call('POST', f'/inference_jobs/{app}/-1/keys', user, json={})['key']
    return job['predictor_url'], {'Authorization': f'Bearer {key}'}, trials


def _running(platform, user, app):
    job = platform.call('GET', f'/inference_jobs/{app}/-1', user)
    assert job['status'] in ('STARTED', 'RUNNING'), job
    return job if job['status'] == 'RUNNING' else None


def _refused_query(url, headers, body, message) -> None:
    response = requests.post(url + '/predict', json=body, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    assert message in response.json()['error']['message'], response.text


def test_pos_tagging_in_the_corpus_format_end_to_end(platform, generated, tmp_path):
    dev = platform.make_user('dev')
    data = generated['pos_corpus']
    # Malformed corpora: a 400 that says what and where.
    bad_tag = _rewrite_zip(data['train'], tmp_path / 'bad.zip', lambda name, raw: raw.replace(b'\t1\n', b'\tNN\n', 1)
                           if name == 'corpus.tsv' else raw)
    assert "the tag must be an integer 0..k-1; got 'NN'" in _refused_upload(platform, dev, bad_tag, 'POS_TAGGING')
    assert 'corpus.tsv at its root' in _refused_upload(platform, dev, generated['shapes']['val'], 'POS_TAGGING')
    # Ours, and one written for SingaAuto (its corpus reader, PosTagModel): the ensemble votes per token.
    models = [platform.upload_model(dev, POS_TAGGER, 'SkPosTagger', task='POS_TAGGING'),
              platform.upload_model(dev, SA_HMM, 'SaBigramHmm', task='POS_TAGGING')]
    url, headers, trials = _train_and_deploy(platform, dev, 'pos', 'POS_TAGGING', data, models)
    assert min(t['score'] for t in trials) > 0.95
    datasets = platform.call('GET', '/datasets', dev, query_string={'task': 'POS_TAGGING'})
    assert {d['stat']['tag_count'] for d in datasets} == {11} and {d['stat']['sentences'] for d in datasets} == {900, 300}

    sentences, tags, _ = load_corpus_dataset(data['test'])
    answer = requests.post(url + '/predict', json={'queries': sentences[:50], 'details': True}, headers=headers,
                           timeout=20).json()
    predicted = answer['predictions']
    assert [len(p) for p in predicted] == [len(s) for s in sentences[:50]]
    right = sum(p == t for ps, ts in zip(predicted, tags) for p, t in zip(ps, ts))
    assert right / sum(len(s) for s in sentences[:50]) > 0.95
    # The ensemble is a vote per token: where the two models agree, that is the answer.
    first, second = (m['predictions'] for m in answer['model_predictions'])
    assert all(c == a for ps, qs, cs in zip(first, second, predicted) for a, b, c in zip(ps, qs, cs) if a == b)
    one = requests.post(url + '/predict', json={'query': ['The', 'old', 'dog', 'can', 'watch', 'the', 'light', '.']},
                        headers=headers, timeout=10).json()
    assert one['prediction'] == [0, 3, 1, 10, 2, 0, 1, 9]     # DET ADJ NOUN AUX VERB DET NOUN PUNCT
    # Malformed queries are refused at the predictor's edge, naming the query and its fault.
    _refused_query(url, headers, {'query': 'The dog barks .'}, 'the query is not a sentence: it is a string')
    _refused_query(url, headers, {'queries': [['A', 'dog'], ['A', 3]]}, 'query 1 is not a sentence: token 1 is a number')
    _refused_query(url, headers, {'query': []}, 'it is an empty list')
    # SingaAuto's POST /: the JSON body is one query, checked the same way.
    assert requests.post(url + '/', json=['A', 'dog', 'sees', 'me', '.'], headers=headers,
                         timeout=10).json() == [[0, 1, 2, 5, 9]]
    refused = requests.post(url + '/', json={'tokens': ['A']}, headers=headers, timeout=10)
    assert refused.status_code == 400 and 'not a sentence: it is an object' in refused.json()['error']['message']


def test_image_detection_in_coco_layout_end_to_end(platform, generated, tmp_path):
    dev = platform.make_user('dev')
    data = generated['shapes']
    # Malformed datasets: an image the annotations name is missing; no annotations at all.
    missing = _rewrite_zip(data['val'], tmp_path / 'missing.zip', lambda name, raw: None if name == 'val/00003.png'
                           else raw)
    assert "images[3] is '00003.png', but the zip has no val/00003.png" in _refused_upload(
        platform, dev, missing, 'IMAGE_DETECTION')
    assert 'annotations/instances_<split>.json' in _refused_upload(platform, dev, generated['pos_corpus']['val'],
                                                                     'IMAGE_DETECTION')
    models = _two_models(platform, dev, DETECTOR, 'TorchCenterNet', 'IMAGE_DETECTION', tmp_path)
    url, headers, trials = _train_and_deploy(platform, dev, 'shapes', 'IMAGE_DETECTION', data, models,
                                             train_args={'epochs': 12})
    assert min(t['score'] for t in trials) > 0.5
    dataset = platform.call('GET', '/datasets', dev, query_string={'task': 'IMAGE_DETECTION'})[0]
    assert dataset['stat']['categories'].keys() == {'square', 'circle', 'triangle'}

    test = load_detection_dataset(data['test'])
    queries = [image.tolist() for image in test.images[:20]]
    answer = requests.post(url + '/predict', json={'queries': queries, 'details': True}, headers=headers,
                           timeout=30).json()
    assert len(answer['models']) == 2 and all(m['answered'] for m in answer['models'])
    predicted = answer['predictions']
    assert average_precision(predicted, test.truths()[:20]) > 0.5
    assert all({'bbox', 'category_id', 'score'} <= set(d) and d['category_id'] in (1, 2, 3) for p in predicted for d in p)
    # Fused: no answer has more boxes than the two models' answers together.
    per_model = [m['predictions'] for m in answer['model_predictions']]
    assert all(len(p) <= len(a) + len(b) for p, a, b in zip(predicted, *per_model))
    # Malformed images are refused at the predictor's edge.
    _refused_query(url, headers, {'query': [1, 2, 3]}, 'the query is not an image: row 0 is a number')
    _refused_query(url, headers, {'query': [[[1, 2, 3]], [[1, 2, 3], [4, 5, 6]]]}, 'row 1 has 2 pixels, row 0 has 1')
    _refused_query(url, headers, {'queries': [queries[0], 'aGVsbG8=']}, 'query 1 is not an image: it is a string')
    # SingaAuto's POST / with an uploaded image file: decoded to pixels, detected as the same array.
    with zipfile.ZipFile(data['test']) as z:
        png = z.read('test/00000.png')
    uploaded = requests.post(url + '/', files={'img': ('q.png', png, 'image/png')}, headers=headers, timeout=10)
    direct = requests.post(url + '/predict', json={'query': queries[0]}, headers=headers, timeout=10)
    assert uploaded.status_code == 200 and uploaded.json() == [direct.json()['prediction']]
