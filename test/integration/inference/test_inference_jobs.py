"""Inference jobs through the admin with real predictor and inference worker processes."""
import concurrent.futures
import csv
import json
import os
import signal
import time
import uuid

import pytest
import requests

from platform_harness import EXAMPLES, prepared_snapshot, running_platform
from serving_templates import predicting_template
from singa.admin.services.deployer import container_service_of
from psycopg2.extras import execute_values

from singa.meta_store import trials
from singa.meta_store.records import ServiceRecord, from_row
from singa.ranking import DEFAULT_TIE_TOLERANCE

TREE = os.path.join(EXAMPLES, 'models', 'sk_decision_tree.py')
LOGREG = os.path.join(EXAMPLES, 'models', 'sk_logistic_regression.py')

# Answers [0.25, 0.75] for queries that are dicts, fails on anything else.
PICKY = predicting_template('Picky', '''        for q in queries:
            if not isinstance(q, dict):
                raise ValueError("queries must be objects of features")
        return [[0.25, 0.75] for q in queries]''')
# Takes 20 ms a batch, so that a replica under load nearly always holds one.
STEADY = predicting_template('Steady', '''        time.sleep(0.02)
        return [[0.5, 0.5] for q in queries]''')
REPLICA_TIMEOUT = 1.0


PLATFORM_SETTINGS = {'predictor_timeout_seconds': 5.0, 'predictor_replica_timeout': REPLICA_TIMEOUT}


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch, **PLATFORM_SETTINGS)


def _rows(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in r.items() if k != 'target'} for r in rows], [int(r['target']) for r in rows]


@pytest.fixture(scope='module')
def trained_snapshot(base_env, _migrated_store, iris, tmp_path_factory):
    """A platform with a stopped train job 'iris' of the user 'dev', with a decision tree and a
    logistic regression, at rest: trained once for the module, restored for each test that needs it."""
    def train(platform):
        dev = platform.make_user('dev')
        train_id = platform.upload_dataset(dev, iris['train'])
        val_id = platform.upload_dataset(dev, iris['val'])
        models = [platform.upload_model(dev, TREE, 'SkDecisionTree'),
                  platform.upload_model(dev, LOGREG, 'SkLogisticRegression')]
        platform.create_job(dev, 'iris', train_id, val_id, models, {'MODEL_TRIAL_COUNT': 2})
        assert platform.wait_job(dev, 'iris')['status'] == 'STOPPED'

    return prepared_snapshot(base_env, _migrated_store, str(tmp_path_factory.mktemp('trained') / 'storage'), train,
                             **PLATFORM_SETTINGS)


@pytest.fixture
def trained(platform, trained_snapshot):
    """The user 'dev' of this test's fresh platform, restored with the module's trained job 'iris'."""
    platform.restore(trained_snapshot)
    return platform.login('dev')


def _deploy(platform, user, **extra):
    job = platform.call('POST', '/inference_jobs', user, json={'app': 'iris', **extra})
    assert job['status'] == 'STARTED' and len(job['workers']) >= 1
    return platform.wait_for(lambda: _running(platform, user), timeout=60, what='inference job RUNNING')


def _running(platform, user):
    job = platform.call('GET', '/inference_jobs/iris/-1', user)
    assert job['status'] in ('STARTED', 'RUNNING'), job
    return job if job['status'] == 'RUNNING' else None


def test_deploy_predict_with_keys_and_through_the_admin(platform, trained, iris):
    dev = trained
    job = _deploy(platform, dev)
    assert {w['model_name'].split('-')[0] for w in job['workers']} == {'SkDecisionTree', 'SkLogisticRegression'}
    url = job['predictor_url']
    assert url and requests.get(url + '/health', timeout=5).ok
    assert requests.get(url + '/ready', timeout=5).json()['ready']

    queries, labels = _rows(iris['test'])
    # Without a key the predictor refuses; with a fresh key it answers.
    refused = requests.post(url + '/predict', json={'query': queries[0]}, timeout=10)
    assert refused.status_code == 401 and refused.json()['error']['type'] == 'UnauthenticatedError'
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={'name': 'app'})
    headers = {'Authorization': f'Bearer {key["key"]}'}
    one = requests.post(url + '/predict', json={'query': queries[0]}, headers=headers, timeout=10).json()
    assert len(one['prediction']) == 3 and abs(sum(one['prediction']) - 1) < 1e-6
    assert all(m['answered'] for m in one['models']) and len(one['models']) == 2
    many = requests.post(url + '/predict', json={'queries': queries, 'details': True}, headers=headers,
                         timeout=10).json()
    predicted = [max(range(3), key=lambda c: p[c]) for p in many['predictions']]
    accuracy = sum(p == y for p, y in zip(predicted, labels)) / len(labels)
    assert accuracy > 0.85
    assert len(many['model_predictions']) == 2 and len(many['model_predictions'][0]['predictions']) == len(queries)
    # Through the admin, as the owner (the playground).
    proxied = platform.call('POST', '/inference_jobs/iris/-1/predict', dev, json={'query': queries[0]})
    assert proxied['prediction'] == pytest.approx(one['prediction'])
    # Revoking the key takes effect (within the predictor's short cache).
    platform.call('DELETE', f'/inference_jobs/iris/-1/keys/{key["id"]}', dev)
    platform.wait_for(lambda: requests.post(url + '/predict', json={'query': queries[0]}, headers=headers,
                                            timeout=10).status_code == 401, timeout=10, what='revocation')
    assert [k['revoked_at'] is not None for k in platform.call('GET', '/inference_jobs/iris/-1/keys', dev)] == [True]


def _add_trials(cur, sub_job_id, count: int, scores: tuple[float, float]) -> None:
    """``count`` more completed trials of a sub-job, scored evenly from ``scores[0]`` to ``scores[1]``,
    each a copy of a real one (same knobs and saved parameters, so that any of them can be deployed)."""
    cur.execute("SELECT * FROM trials WHERE sub_train_job_id = %s AND status = 'COMPLETED'"
                ' AND params_id IS NOT NULL LIMIT 1', (sub_job_id,))
    real = cur.fetchone()
    low, high = scores
    execute_values(cur, 'INSERT INTO trials (id, sub_train_job_id, no, model_id, status, knobs, score, params_id)'
                   ' VALUES %s', [(str(uuid.uuid4()), sub_job_id, 1000 + i, real['model_id'], 'COMPLETED',
                                   json.dumps(real['knobs']), low + (high - low) * i / (count - 1), real['params_id'])
                                  for i in range(count)])


def test_every_template_is_deployed_however_many_better_trials_the_others_have(platform, trained):
    """A template far worse than the other, with many more trials, still gets its best trial in."""
    dev = trained
    with platform.meta_store.transaction() as cur:
        cur.execute('SELECT s.id, m.model_class FROM sub_train_jobs s JOIN models m ON m.id = s.model_id')
        sub_jobs = {row['model_class']: row['id'] for row in cur.fetchall()}
        cur.execute("UPDATE trials SET score = 0.01 WHERE sub_train_job_id = %s", (sub_jobs['SkDecisionTree'],))
        _add_trials(cur, sub_jobs['SkLogisticRegression'], 1500, (0.9, 0.99))
        _add_trials(cur, sub_jobs['SkDecisionTree'], 4000, (0.02, 0.2))
        cur.execute('SELECT train_job_id FROM sub_train_jobs WHERE id = %s', (sub_jobs['SkDecisionTree'],))
        train_job_id = cur.fetchone()['train_job_id']
        # Scores this close would tie within one validation example (the job's tolerance); this test
        # is about every template getting in, so only exact ties tie here.
        cur.execute('UPDATE train_jobs SET tie_tolerance = %s WHERE id = %s', (DEFAULT_TIE_TOLERANCE, train_job_id))
        # The bests of every template come first, then the second bests.
        two_each = trials.best_trials_of_each_template(cur, train_job_id, 2)
    assert [(t.sub_train_job_id, t.score) for t in two_each] == [
        (sub_jobs['SkLogisticRegression'], pytest.approx(0.99)), (sub_jobs['SkDecisionTree'], pytest.approx(0.2)),
        (sub_jobs['SkLogisticRegression'], pytest.approx(0.9 + 0.09 * 1498 / 1499)),
        (sub_jobs['SkDecisionTree'], pytest.approx(0.02 + 0.18 * 3998 / 3999))]
    job = _deploy(platform, dev)
    deployed = {w['model_name'].split('-')[0]: w['score'] for w in job['workers']}
    assert deployed == {'SkLogisticRegression': pytest.approx(0.99), 'SkDecisionTree': pytest.approx(0.2)}


def test_bad_queries_get_400_and_say_why(platform, trained):
    dev = trained
    url = _deploy(platform, dev)['predictor_url']
    headers = {'Authorization': f'Bearer {platform.call("POST", "/inference_jobs/iris/-1/keys", dev, json={})["key"]}'}
    for body, field in (({'queries': []}, 'queries'), ({'queries': 'x'}, 'queries'), ({'query': None}, 'query'),
                        ({'query': 1, 'queries': [1]}, None), ({'nothing': 1}, 'nothing'), ({'queries': [None]}, 'queries'),
                        ({'query': {}, 'details': 'yes'}, 'details')):
        response = requests.post(url + '/predict', json=body, headers=headers, timeout=10)
        assert response.status_code == 400, (body, response.text)
        assert response.json()['error'].get('field') == field
    bad = requests.post(url + '/predict', data=b'not json', headers=headers, timeout=10)
    assert bad.status_code == 400
    huge = requests.post(url + '/predict', json={'queries': [{}] * 1001}, headers=headers, timeout=10)
    assert huge.status_code == 400
    # Not JSON numbers, or nested too deeply: refused at the edge, and later queries are answered.
    for body, message in ((b'{"query": [NaN]}', 'NaN is not a JSON number'),
                          (b'{"queries": [{"a": Infinity}]}', 'Infinity is not a JSON number'),
                          (b'{"query": 1e400}', 'too large for a double'),
                          (b'{"query": ' + b'[' * 50 + b']' * 50 + b'}', 'at most 32 levels')):
        response = requests.post(url + '/predict', data=body, headers=headers, timeout=10)
        assert response.status_code == 400 and message in response.json()['error']['message'], response.text
    iris_row = {'sepal_length_cm': 5.1, 'sepal_width_cm': 3.5, 'petal_length_cm': 1.4, 'petal_width_cm': 0.2}
    good = requests.post(url + '/predict', json={'query': iris_row}, headers=headers, timeout=10)
    assert good.status_code == 200, good.text


def test_a_query_lacking_trained_features_gets_400_naming_them(platform, trained, iris):
    dev = trained
    url = _deploy(platform, dev)['predictor_url']
    headers = {'Authorization': f'Bearer {platform.call("POST", "/inference_jobs/iris/-1/keys", dev, json={})["key"]}'}
    row = _rows(iris['test'])[0][0]
    partial = {'sepal_length_cm': row['sepal_length_cm'], 'petal_width_cm': row['petal_width_cm']}
    response = requests.post(url + '/predict', json={'query': partial}, headers=headers, timeout=10)
    assert response.status_code == 400, response.text
    message = response.json()['error']['message']
    assert 'lacks 2 of the 4 features the model was trained on: sepal_width_cm, petal_length_cm' in message
    assert 'SkDecisionTree' in message and 'SkLogisticRegression' in message
    # In a batch it costs only its own answer; a whole row with extra keys (the target) is fine, and
    # null is a value known to be missing (imputed).
    full = dict(row, target=0)
    unknown = dict(row, petal_width_cm=None)
    answer = requests.post(url + '/predict', json={'queries': [full, partial, unknown]}, headers=headers,
                           timeout=10).json()
    assert answer['predictions'][1] is None and 'sepal_width_cm, petal_length_cm' in answer['errors']['1'][0]
    assert [len(answer['predictions'][i]) for i in (0, 2)] == [3, 3] and set(answer['errors']) == {'1'}


def test_one_bad_query_costs_only_its_own_answer(platform, iris, tmp_path):
    dev = platform.make_user('dev')
    train_id = platform.upload_dataset(dev, iris['train'])
    val_id = platform.upload_dataset(dev, iris['val'])
    path = tmp_path / 'picky.py'
    path.write_text(PICKY)
    model = platform.upload_model(dev, str(path), 'Picky')
    platform.create_job(dev, 'iris', train_id, val_id, [model], {'MODEL_TRIAL_COUNT': 1})
    platform.wait_job(dev, 'iris')
    _deploy(platform, dev)
    answer = platform.call('POST', '/inference_jobs/iris/-1/predict', dev, json={'queries': [{'a': 1}, 7, {'b': 2}]})
    assert answer['predictions'] == [[0.25, 0.75], None, [0.25, 0.75]]
    assert 'queries must be objects' in answer['errors']['1'][0]
    error = platform.call('POST', '/inference_jobs/iris/-1/predict', dev, expect=400, json={'query': 7})['error']
    assert 'no model could predict' in error['message'] and 'queries must be objects' in error['message']


def test_concurrent_requests_each_get_their_own_answers(platform, trained, iris):
    dev = trained
    job = _deploy(platform, dev)
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={})['key']
    queries, _ = _rows(iris['test'])
    session = requests.Session()
    expected = session.post(job['predictor_url'] + '/predict', json={'queries': queries},
                            headers={'Authorization': f'Bearer {key}'}, timeout=10).json()['predictions']

    def ask(i):
        with requests.Session() as s:
            r = s.post(job['predictor_url'] + '/predict', json={'query': queries[i]},
                       headers={'Authorization': f'Bearer {key}'}, timeout=10)
            return i, r.json()['prediction']

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, list(range(len(queries))) * 3))
    for i, prediction in answers:
        assert prediction == pytest.approx(expected[i])


def test_a_hung_then_killed_inference_worker_costs_only_its_vote(platform, trained, iris):
    """A replica that hangs (SIGSTOP) costs its model's vote, never a request; once it is killed, the
    supervisor's replacement answers again."""
    dev = trained
    job = _deploy(platform, dev)
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={})['key']
    queries, _ = _rows(iris['test'])
    victim_trial = job['workers'][0]['trial_id']
    with platform.meta_store.transaction() as cur:
        cur.execute("SELECT * FROM services WHERE job_id = %s AND trial_id = %s", (job['id'], victim_trial))
        service = from_row(ServiceRecord, cur.fetchone())
    pid = next(r['process']['pid'] for r in platform.manager.replica_states(container_service_of(service))
               if r['state'] == 'running')
    stop = time.monotonic() + 6
    results = []

    def load():
        with requests.Session() as s:
            while time.monotonic() < stop:
                r = s.post(job['predictor_url'] + '/predict', json={'query': queries[0]},
                           headers={'Authorization': f'Bearer {key}'}, timeout=15)
                results.append((r.status_code, r.json()))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load) for _ in range(4)]
        time.sleep(0.5)
        os.kill(pid, signal.SIGSTOP)
        for f in futures:
            f.result()
    failed = [(status, body) for status, body in results if status != 200]
    assert results and not failed, failed[:3]
    answered = [{m['trial_id']: m['answered'] for m in body['models']} for _, body in results]
    missing = [a for a in answered if not a[victim_trial]]
    assert missing and all(len(a) == 2 and sum(a.values()) == 1 for a in missing)
    os.kill(pid, signal.SIGKILL)     # ends a stopped process too (SIGCONT after it raced its reaping)

    def all_answer():
        body = platform.call('POST', '/inference_jobs/iris/-1/predict', dev, json={'query': queries[0]})
        return all(m['answered'] for m in body['models'])
    platform.wait_for(all_answer, timeout=30, what='the replacement replica')


def test_a_replica_killed_under_load_costs_no_request(platform, iris, tmp_path):
    """Two replicas of one model; one is killed -9 while 4 clients keep querying. The batch it held
    goes to the other replica after the replica timeout: no request fails, none takes longer than
    that timeout + 1 s. (The victim is frozen for a moment first, so that it surely holds a batch.)"""
    dev = platform.make_user('dev')
    path = tmp_path / 'steady.py'
    path.write_text(STEADY)
    model = platform.upload_model(dev, str(path), 'Steady')
    platform.create_job(dev, 'iris', platform.upload_dataset(dev, iris['train']),
                        platform.upload_dataset(dev, iris['val']), [model], {'MODEL_TRIAL_COUNT': 1})
    platform.wait_job(dev, 'iris')
    job = _deploy(platform, dev, replicas=2)
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={})['key']
    with platform.meta_store.transaction() as cur:
        cur.execute("SELECT * FROM services WHERE job_id = %s AND service_type = 'INFERENCE'", (job['id'],))
        service = from_row(ServiceRecord, cur.fetchone())
    victim = next(r['process']['pid'] for r in platform.manager.replica_states(container_service_of(service))
                  if r['state'] == 'running')
    stop = time.monotonic() + 6
    results, asking = [], {}      # asking: client -> when its current request started

    def load(client):
        with requests.Session() as s:
            while time.monotonic() < stop:
                asking[client] = started = time.monotonic()
                r = s.post(job['predictor_url'] + '/predict', json={'query': {'a': 1}},
                           headers={'Authorization': f'Bearer {key}'}, timeout=15)
                results.append((r.status_code, time.monotonic() - started))
                asking[client] = None

    def held():
        return any(t is not None and time.monotonic() - t > 0.2 for t in list(asking.values()))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load, client) for client in range(4)]
        platform.wait_for(lambda: len(results) >= 40, timeout=10, what='queries answered before the kill')
        os.kill(victim, signal.SIGSTOP)
        platform.wait_for(held, timeout=5, what='a request held by the frozen replica')
        os.kill(victim, signal.SIGKILL)
        for f in futures:
            f.result()
    failed = [status for status, _ in results if status != 200]
    slowest = max(took for _, took in results)
    assert len(results) > 100 and not failed, failed[:5]
    assert slowest < REPLICA_TIMEOUT + 1.0, (slowest, len(results))
    assert 'sent it to another replica' in platform.worker_logs()


def test_one_live_job_per_train_job_and_stop_cleans_everything(platform, trained):
    dev = trained
    job = _deploy(platform, dev)
    error = platform.call('POST', '/inference_jobs', dev, expect=409, json={'app': 'iris'})['error']
    assert error['type'] == 'ConflictError'
    other = platform.make_user('other')
    platform.call('GET', '/inference_jobs/iris/-1', other, expect=404)
    platform.call('POST', '/inference_jobs/iris/-1/stop', other, expect=404)
    platform.call('POST', '/inference_jobs/iris/-1/predict', other, expect=404, json={'query': {}})
    owner = {'user_id': job['owner_id']}
    platform.call('GET', '/inference_jobs/iris/-1', other, expect=404, query_string=owner)
    platform.call('POST', '/inference_jobs/iris/-1/stop', other, expect=404, query_string=owner)
    # An admin may name the owner, and stop the job.
    admin = platform.make_user('boss', 'ADMIN')
    platform.call('GET', '/inference_jobs/iris/-1', admin, expect=404)
    assert platform.call('GET', '/inference_jobs/iris/-1', admin, query_string=owner)['id'] == job['id']
    assert [j['id'] for j in platform.call('GET', '/inference_jobs/iris', admin, query_string=owner)] == [job['id']]
    stopped = platform.call('POST', '/inference_jobs/iris/-1/stop', admin, query_string=owner)
    assert stopped['status'] == 'STOPPED' and stopped['predictor_url'] is None
    assert not platform.live_services(job['id'])
    assert list(platform.ctx.redis.scan_iter(match=f'singa:ij:{job["id"]}:*')) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(job['predictor_url'] + '/health', timeout=2)
    # A new one may be deployed now.
    assert platform.call('POST', '/inference_jobs', dev, json={'app': 'iris'})['status'] == 'STARTED'
    listed = platform.call('GET', '/inference_jobs', dev)
    assert len(listed) == 2 and len(platform.call('GET', '/inference_jobs/iris', dev)) == 2


def test_deploy_refuses_unfinished_and_unknown_jobs(platform, iris, tmp_path):
    dev = platform.make_user('dev')
    platform.call('POST', '/inference_jobs', dev, expect=404, json={'app': 'nothing'})
    train_id = platform.upload_dataset(dev, iris['train'])
    val_id = platform.upload_dataset(dev, iris['val'])
    model = platform.upload_model(dev, TREE, 'SkDecisionTree')
    platform.create_job(dev, 'iris', train_id, val_id, [model], {'TIME_HOURS': 1})
    error = platform.call('POST', '/inference_jobs', dev, expect=409, json={'app': 'iris'})['error']
    assert 'deploy it once it has stopped' in error['message']
    for body, status, field in (({'replicas': 0}, 400, 'replicas'), ({'budget': {'GPU_COUNT': 1}}, 409, 'budget'),
                                ({'ensemble': 'MAX'}, 400, 'ensemble'),
                                ({'models_per_template': 99}, 400, 'models_per_template')):
        error = platform.call('POST', '/inference_jobs', dev, expect=status, json={'app': 'iris', **body})['error']
        assert error['field'] == field
    platform.call('POST', '/train_jobs/iris/-1/stop', dev)


def test_a_banned_owners_predictors_stop_answering_and_an_unban_restores_them(platform, trained, iris):
    """A ban withdraws the owner's prediction keys from their running predictor (a republish after a
    Redis loss keeps them withdrawn) and stops their public jobs; an unban gives the keys back."""
    dev = trained
    job = _deploy(platform, dev)
    url, owner = job['predictor_url'], {'user_id': job['owner_id']}
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={'name': 'app'})['key']
    queries, _ = _rows(iris['test'])

    def status_with_key():
        return requests.post(url + '/predict', json={'query': queries[0]}, headers={'Authorization': f'Bearer {key}'},
                             timeout=10).status_code

    assert status_with_key() == 200
    admin = platform.make_user('boss', 'ADMIN')
    platform.call('DELETE', '/users', admin, json={'email': 'dev@example.com'})
    platform.wait_for(lambda: status_with_key() == 401, timeout=10, what='the banned key refused')
    assert platform.call('GET', '/inference_jobs/iris/-1', admin, query_string=owner)['status'] == 'RUNNING'
    # A private job keeps running, answering no key, not even after the reconciler republishes it.
    platform.ctx.inference_jobs.publish(job['id'])
    assert status_with_key() == 401
    platform.call('POST', '/users/unban', admin, json={'email': 'dev@example.com'})
    platform.wait_for(lambda: status_with_key() == 200, timeout=10, what='the key accepted again')

    # A public job needs no key: a ban stops it.
    platform.login(dev)
    platform.call('POST', '/inference_jobs/iris/-1/stop', dev)
    public = _deploy(platform, dev, is_public=True)
    assert requests.post(public['predictor_url'] + '/predict', json={'query': queries[0]}, timeout=10).ok
    platform.call('DELETE', '/users', admin, json={'email': 'dev@example.com'})
    stopped = platform.call('GET', '/inference_jobs/iris/-1', admin, query_string=owner)
    assert stopped['id'] == public['id'] and stopped['status'] == 'STOPPED'
    assert not platform.live_services(public['id'])
    with pytest.raises(requests.ConnectionError):
        requests.post(public['predictor_url'] + '/predict', json={'query': queries[0]}, timeout=2)



def test_the_predictor_serves_its_metrics(platform, trained, iris):
    """Requests by route and status, batch sizes, each model's answer time and live replicas, read
    from a real predictor after real predictions."""
    from prometheus_client.parser import text_string_to_metric_families
    dev = trained
    job = _deploy(platform, dev, is_public=False)
    url = job['predictor_url']
    key = platform.call('POST', '/inference_jobs/iris/-1/keys', dev, json={'name': 'm'})['key']
    queries, _ = _rows(iris['test'])
    headers = {'Authorization': f'Bearer {key}'}
    assert requests.post(url + '/predict', json={'queries': queries[:5]}, headers=headers, timeout=10).ok
    assert requests.post(url + '/predict', json={'query': queries[0]}, headers=headers, timeout=10).ok
    assert requests.post(url + '/predict', json={'query': queries[0]}, timeout=10).status_code == 401
    response = requests.get(url + '/metrics', timeout=10)
    assert response.ok and response.headers['Content-Type'].startswith('text/plain')
    found = {(s.name, frozenset(s.labels.items())): s.value
             for family in text_string_to_metric_families(response.text) for s in family.samples}

    def value(name, **labels):
        return found.get((name, frozenset(labels.items())), 0.0)

    assert value('singa_http_requests_total', method='POST', route='/predict', status='200') == 2
    assert value('singa_http_requests_total', method='POST', route='/predict', status='401') == 1
    assert value('singa_http_request_duration_seconds_count', method='POST', route='/predict') == 3
    assert value('singa_predictor_batch_size_count') == 2 and value('singa_predictor_batch_size_sum') == 6
    for worker in job['workers']:
        labels = {'trial_id': worker['trial_id'], 'model': worker['model_name']}
        assert value('singa_predictor_model_answer_seconds_count', **labels) == 2, worker
        assert 0 < value('singa_predictor_model_answer_seconds_sum', **labels) < 10
        assert value('singa_predictor_live_replicas', **labels) == worker['replicas']
