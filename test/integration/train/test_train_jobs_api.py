"""Train jobs end to end through the admin API: real worker processes, real stores, real reconciler."""
import os
import signal
import threading
import time
from datetime import datetime

import numpy as np

from platform_harness import EXAMPLES
from singa.admin.services.deployer import container_service_of
from singa.meta_store.records import ServiceRecord, from_row
from singa.param_store.codec import decode_params
from singa.ranking import rank_rule, tie_tolerance

TREE = os.path.join(EXAMPLES, 'models', 'sk_decision_tree.py')
LOGREG = os.path.join(EXAMPLES, 'models', 'sk_logistic_regression.py')

SLOW = '''
import time
from singa.model import BaseModel, FloatKnob, logger

class Slow(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        for step in range(int(SECONDS * 10)):
            time.sleep(0.1)
        logger.log("trained", loss=1.0 - self.knobs["x"])

    def evaluate(self, dataset_path):
        return self.knobs["x"]

    def predict(self, queries):
        return [[1.0 - self.knobs["x"], self.knobs["x"]] for _ in queries]

    def dump_parameters(self):
        return {"x": self.knobs["x"], "weights": __import__("numpy").arange(6, dtype="float32").reshape(2, 3)}

    def load_parameters(self, params):
        self.weights = params["weights"]
'''

BROKEN = '''
from singa.model import BaseModel, FloatKnob

class Broken(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        raise ValueError("this template cannot learn")

    def evaluate(self, dataset_path):
        return 0.0

    def predict(self, queries):
        return []

    def dump_parameters(self):
        return {}

    def load_parameters(self, params):
        pass
'''


def test_two_templates_complete_with_exact_trial_counts(platform, setup):
    dev, train_id, val_id, _ = setup
    models = [platform.upload_model(dev, TREE, 'SkDecisionTree'),
              platform.upload_model(dev, LOGREG, 'SkLogisticRegression')]
    job = platform.create_job(dev, 'iris', train_id, val_id, models,
                              {'MODEL_TRIAL_COUNT': 5, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.1,
                               'MAX_CONCURRENT_TRIALS': 3})
    assert job['status'] in ('STARTED', 'RUNNING') and job['app_version'] == 1
    assert job['budget']['MAX_CONCURRENT_TRIALS'] == 3
    assert len(job['sub_train_jobs']) == 2
    job = platform.wait_job(dev, 'iris')
    assert job['status'] == 'STOPPED', job
    assert job['trials_completed'] == 10 and job['trials_total'] == 10
    for sub in job['sub_train_jobs']:
        assert sub['status'] == 'STOPPED' and sub['trials'] == {'COMPLETED': 5}
    trials = platform.trials(dev, 'iris')
    assert len(trials) == 10 and {t['status'] for t in trials} == {'COMPLETED'}
    best = platform.call('GET', '/train_jobs/iris/1/trials', dev, query_string={'type': 'best', 'max_count': 3})
    # Trials within one example of the validation set (its rows, counted at upload) tie with the best.
    val_rows = platform.call('GET', f'/datasets/{val_id}', dev)['stat']['rows']
    tolerance = tie_tolerance(1 / val_rows)
    assert best[0]['rank_rule'] == rank_rule(tolerance)
    assert len(best) == 3 and best[0]['score'] >= max(t['score'] for t in trials) - tolerance > 0.8
    assert best[0]['tied_with_best']
    trial = platform.call('GET', f'/trials/{best[0]["id"]}', dev)
    assert trial['is_params_saved'] and trial['knobs'] == best[0]['knobs']
    logs = platform.call('GET', f'/trials/{trial["id"]}/logs', dev)
    assert any('score' in m for m in logs['metrics']) and logs['last_id'] > 0
    params = decode_params(platform.call('GET', f'/trials/{trial["id"]}/parameters', dev))
    assert 'pipeline' in params
    # The job has ended: the reconciler removes its workers, and no trial stays live.
    platform.wait_for(lambda: not platform.live_services(job['id']), what='services removed')
    # Nobody else may read any of it.
    other = platform.make_user('other')
    platform.call('GET', '/train_jobs/iris/1', other, expect=404)
    platform.call('GET', '/train_jobs/iris/1/trials', other, expect=404)
    for suffix in ('', '/logs', '/parameters'):
        platform.call('GET', f'/trials/{trial["id"]}{suffix}', other, expect=404)
    assert platform.call('GET', '/train_jobs', other) == []
    # Naming the owner does not help a user who is not an admin.
    owner = {'user_id': job['owner_id']}
    for path in ('/train_jobs/iris', '/train_jobs/iris/1', '/train_jobs/iris/1/trials',
                 '/train_jobs/iris/1/importance'):
        platform.call('GET', path, other, expect=404, query_string=owner)
    platform.call('POST', '/train_jobs/iris/1/stop', other, expect=404, query_string=owner)
    # An admin may, naming the owner where the job is addressed by its app.
    admin = platform.make_user('boss', 'ADMIN')
    assert platform.call('GET', f'/trials/{trial["id"]}', admin)['id'] == trial['id']
    platform.call('GET', '/train_jobs/iris/1', admin, expect=404)        # the admin has no job of that app
    assert platform.call('GET', '/train_jobs/iris/1', admin, query_string=owner)['id'] == job['id']
    assert [j['id'] for j in platform.call('GET', '/train_jobs/iris', admin, query_string=owner)] == [job['id']]
    assert len(platform.call('GET', '/train_jobs/iris/1/trials', admin, query_string=owner)) == 10
    importances = platform.call('GET', '/train_jobs/iris/1/importance', admin, query_string=owner)
    assert {i['model_name'] for i in importances} == {s['model_name'] for s in job['sub_train_jobs']}
    assert platform.call('POST', '/train_jobs/iris/1/stop', admin, query_string=owner)['status'] == 'STOPPED'


def test_stop_mid_trial_records_running_trials_as_stopped(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=30)
    job = platform.create_job(dev, 'slow', train_id, val_id, [slow], {'TIME_HOURS': 1})
    platform.wait_for(lambda: any(t['status'] == 'RUNNING' for t in platform.trials(dev, 'slow')),
                      what='a running trial')
    started = time.monotonic()
    stopping = platform.call('POST', '/train_jobs/slow/1/stop', dev)
    assert stopping['status'] in ('STOPPING', 'STOPPED')
    job = platform.wait_job(dev, 'slow', timeout=20)
    assert job['status'] == 'STOPPED'
    assert time.monotonic() - started < 10
    trials = platform.trials(dev, 'slow')
    assert trials and {t['status'] for t in trials} == {'STOPPED'}
    platform.wait_for(lambda: not platform.live_services(job['id']), what='services removed')
    platform.call('POST', '/train_jobs/slow/1/stop', dev)   # stopping again is harmless


def test_a_template_that_always_raises_fails_its_trials_and_the_job(platform, setup):
    dev, train_id, val_id, template = setup
    broken = template(BROKEN, 'Broken')
    platform.create_job(dev, 'broken', train_id, val_id, [broken], {'TIME_HOURS': 0.1})
    job = platform.wait_job(dev, 'broken', timeout=60)
    assert job['status'] == 'ERRORED'
    assert 'cannot learn' in job['error'] and 'trials in a row failed' in job['error']
    trials = platform.trials(dev, 'broken')
    assert len(trials) >= 5 and {t['status'] for t in trials} == {'ERRORED'}
    messages = platform.call('GET', f'/trials/{trials[0]["id"]}/logs', dev)['messages']
    assert any('ValueError: this template cannot learn' in m['message'] for m in messages)
    assert 'Traceback' in platform.call('GET', f'/trials/{trials[0]["id"]}', dev)['error']


def test_sigkill_of_a_train_worker_and_of_the_advisor(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=0.6)
    job = platform.create_job(dev, 'crash', train_id, val_id, [slow],
                              {'MODEL_TRIAL_COUNT': 8, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.1},
                              max_trial_retries=1)
    services = {s['service_type']: s for s in platform.live_services(job['id'])}

    def pids(service_type):
        service = next(s for s in platform.live_services(job['id']) if s['service_type'] == service_type)
        states = platform.manager.replica_states(container_service_of(from_row(ServiceRecord, service)))
        return [s['process']['pid'] for s in states if s['state'] == 'running' and s['process']]

    platform.wait_for(lambda: len([t for t in platform.trials(dev, 'crash') if t['status'] == 'RUNNING']) == 2,
                      what='two running trials')
    os.kill(pids('TRAIN')[0], signal.SIGKILL)
    platform.wait_for(lambda: len([t for t in platform.trials(dev, 'crash') if t['status'] == 'COMPLETED']) >= 4,
                      what='four completed trials')
    os.kill(pids('ADVISOR')[0], signal.SIGKILL)
    job = platform.wait_job(dev, 'crash', timeout=120)
    assert job['status'] == 'STOPPED', job
    trials = platform.trials(dev, 'crash')
    originals = [t for t in trials if t['retry_of'] is None]
    assert len(originals) == 8
    lost = [t for t in trials if t['status'] == 'ERRORED']
    assert lost and all('lost' in t['error'] for t in lost)
    retried = {t['retry_of'] for t in trials if t['retry_of']}
    assert retried <= {t['id'] for t in lost}
    assert not [t for t in trials if t['status'] in ('RUNNING', 'PENDING')]
    assert len({t['no'] for t in trials}) == len(trials)
    assert services


def test_deadline_stops_new_trials_and_cancels_after_grace(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=60)
    started = time.monotonic()
    platform.create_job(dev, 'deadline', train_id, val_id, [slow], {'TIME_HOURS': 4 / 3600})
    job = platform.wait_job(dev, 'deadline', timeout=30)
    took = time.monotonic() - started
    assert 4 <= took < 4 + platform.settings.stop_grace_seconds + 6, took
    trials = platform.trials(dev, 'deadline')
    assert len(trials) == 1 and trials[0]['status'] == 'STOPPED'
    assert job['status'] == 'ERRORED' and 'time budget' in job['error']   # nothing completed in time


def test_an_admin_restart_loses_nothing(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=0.5)
    platform.create_job(dev, 'restart', train_id, val_id, [slow], {'MODEL_TRIAL_COUNT': 6, 'TIME_HOURS': 0.1})
    platform.wait_for(lambda: any(t['status'] == 'COMPLETED' for t in platform.trials(dev, 'restart')),
                      what='a completed trial')
    platform.restart_admin()
    job = platform.wait_job(dev, 'restart', timeout=60)
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 6
    platform.wait_for(lambda: not platform.live_services(job['id']), what='services removed by the new admin')


def test_concurrent_creations_get_distinct_versions(platform, setup):
    dev, train_id, val_id, _ = setup
    tree = platform.upload_model(dev, TREE, 'SkDecisionTree')
    results, errors = [], []

    def create():
        try:
            client = platform.app.test_client()
            response = client.post('/train_jobs', headers={'Authorization': f'Bearer {platform.tokens[dev]}'},
                                   json={'app': 'race', 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id,
                                         'val_dataset_id': val_id, 'model_ids': [tree],
                                         'budget': {'MODEL_TRIAL_COUNT': 1}})
            results.append((response.status_code, response.get_json()))
        except Exception as e:  # pragma: no cover - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and [s for s, _ in results] == [200] * 4
    assert sorted(body['app_version'] for _, body in results) == [1, 2, 3, 4]
    for version in range(1, 5):
        assert platform.wait_job(dev, 'race', version=version, timeout=60)['status'] == 'STOPPED'


def test_bad_requests_get_clear_errors(platform, setup):
    dev, train_id, val_id, _ = setup
    tree = platform.upload_model(dev, TREE, 'SkDecisionTree')
    other = platform.make_user('other')
    others_data = platform.upload_dataset(other, _tiny_csv())
    cases = [
        ({'budget': {'HOURS': 1}}, 400, 'budget'),
        ({'budget': {'MODEL_TRIAL_COUNT': 0}}, 400, 'budget'),
        ({'budget': {'TIME_HOURS': -1}}, 400, 'budget'),
        ({'budget': {'TIME_HOURS': 'soon'}}, 400, 'budget'),
        ({'budget': {'GPU_COUNT': 1}}, 409, 'budget'),      # no GPUs where workers are local processes
        ({'budget': {'WORKERS_PER_MODEL': 100}}, 400, 'budget'),
        ({'budget': {'MAX_CONCURRENT_TRIALS': 0}}, 400, 'budget'),
        ({'app': 'no spaces please'}, 400, 'app'),
        ({'app': '../etc'}, 400, 'app'),
        ({'model_ids': []}, 400, 'model_ids'),
        ({'model_ids': ['not-a-uuid']}, 400, 'model_ids'),
        ({'model_ids': ['00000000-0000-0000-0000-000000000000']}, 404, 'model_ids'),
        ({'train_dataset_id': others_data}, 404, 'train_dataset_id'),
        ({'advisor': 'GENETIC'}, 400, 'advisor'),
        ({'advisor': 'CMAES'}, 409, 'advisor'),     # the tree's knobs are not all numeric
        ({'max_trial_retries': 99}, 400, 'max_trial_retries'),
        ({'unknown': 1}, 400, 'unknown'),
    ]
    for change, status, field in cases:
        body = {'app': 'bad', 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id,
                'val_dataset_id': val_id, 'model_ids': [tree], 'budget': {'MODEL_TRIAL_COUNT': 1}, **change}
        error = platform.call('POST', '/train_jobs', dev, expect=status, json=body)['error']
        assert error.get('field') == field, (change, error)
    platform.call('POST', '/train_jobs', expect=401, json={})
    platform.call('GET', '/train_jobs/nope/1', dev, expect=404)
    platform.call('POST', '/train_jobs/nope/-1/stop', dev, expect=404)
    platform.call('GET', '/trials/not-a-uuid', dev, expect=404)
    assert platform.call('GET', '/train_jobs', dev) == []


def _tiny_csv() -> str:
    import tempfile
    with tempfile.NamedTemporaryFile('w', suffix='.csv', delete=False) as f:
        f.write('a,b\n1,0\n2,1\n')
    return f.name


def test_trial_parameters_round_trip_through_the_client_codec(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=0.1)
    job = platform.create_job(dev, 'params', train_id, val_id, [slow], {'MODEL_TRIAL_COUNT': 1})
    # Only a trial count: the job has a deadline all the same, a day after its creation; the budget
    # (which the advisor plans with) keeps what was asked.
    deadline = datetime.fromisoformat(job['deadline_at']) - datetime.fromisoformat(job['created_at'])
    assert abs(deadline.total_seconds() - 24 * 3600) < 5 and 'TIME_HOURS' not in job['budget']
    assert platform.wait_job(dev, 'params')['status'] == 'STOPPED'
    trial = platform.trials(dev, 'params')[0]
    params = decode_params(platform.call('GET', f'/trials/{trial["id"]}/parameters', dev))
    assert params['weights'].dtype == np.float32 and params['weights'].shape == (2, 3)


def test_workers_that_run_user_code_get_no_platform_secrets(platform, setup):
    dev, train_id, val_id, template = setup
    slow = template(SLOW, 'Slow', seconds=30)
    job = platform.create_job(dev, 'secrets', train_id, val_id, [slow], {'TIME_HOURS': 1})
    platform.wait_for(lambda: any(t['status'] == 'RUNNING' for t in platform.trials(dev, 'secrets')),
                      what='a running trial')
    secrets = {platform.settings.postgres_password, platform.settings.token_secret,
               platform.settings.superadmin_password, platform.settings.redis_password}
    for row in platform.live_services(job['id']):
        service = from_row(ServiceRecord, row)
        for replica in platform.manager.replica_states(container_service_of(service)):
            with open(f'/proc/{replica["process"]["pid"]}/environ', 'rb') as f:
                env = dict(item.split('=', 1) for item in f.read().decode().split('\0') if '=' in item)
            leaked = {k for k, v in env.items() if v in secrets}
            if service.service_type == 'TRAIN':
                assert not leaked, leaked
                assert 'SINGA_POSTGRES_PASSWORD' not in env and env['SINGA_REDIS_USER'].startswith('singa-tj-')
            else:   # the advisor runs no user code and holds the database password
                assert env['SINGA_POSTGRES_PASSWORD'] == platform.settings.postgres_password
                assert 'SINGA_TOKEN_SECRET' not in env and 'SINGA_SUPERADMIN_PASSWORD' not in env
    platform.call('POST', '/train_jobs/secrets/1/stop', dev)


CHATTY = '''
import time
from singa.model import BaseModel, FloatKnob, logger

class Chatty(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0)}

    def train(self, dataset_path, shared_params=None, **kwargs):
        logger.define_loss_plot()
        for epoch in range(600):
            logger.log_loss(loss=1.0 / (epoch + 1), epoch=epoch)
            logger.log(f"epoch {epoch} done")
            time.sleep(0.05)

    def evaluate(self, dataset_path):
        return self.knobs["x"]

    def predict(self, queries):
        return [0.0 for _ in queries]

    def dump_parameters(self):
        return {}

    def load_parameters(self, params):
        pass
'''


def test_trial_logs_are_readable_while_the_trial_runs(platform, setup):
    dev, train_id, val_id, template = setup
    chatty = template(CHATTY, 'Chatty')
    platform.create_job(dev, 'chatty', train_id, val_id, [chatty], {'TIME_HOURS': 1})
    trial = platform.wait_for(lambda: next((t for t in platform.trials(dev, 'chatty') if t['status'] == 'RUNNING'),
                                           None), what='a running trial')

    def logs_after(after_id=0):
        return platform.call('GET', f'/trials/{trial["id"]}/logs', dev, query_string={'after_id': after_id})

    first = platform.wait_for(lambda: (lambda body: body if len(body['metrics']) >= 5 else None)(logs_after()),
                              what='log lines of the running trial')
    assert first['plots'] == [{'title': 'Loss over epochs', 'metrics': ['loss'], 'x_axis': 'epoch'}]
    assert any(m['message'].startswith('epoch ') for m in first['messages'])
    newer = platform.wait_for(lambda: (lambda body: body if body['metrics'] else None)(logs_after(first['last_id'])),
                              what='newer log lines')
    assert newer['last_id'] > first['last_id'] and min(m['epoch'] for m in newer['metrics']) > 0
    assert platform.call('GET', f'/trials/{trial["id"]}', dev)['status'] == 'RUNNING'
    platform.call('POST', '/train_jobs/chatty/1/stop', dev)


EIGHT_KNOB_SETS = '''
from singa.model import BaseModel, CategoricalKnob, IntegerKnob

class Eight(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"criterion": CategoricalKnob(["gini", "entropy"]), "depth": IntegerKnob(2, 3),
                "balanced": CategoricalKnob([False, True])}

    def train(self, dataset_path, shared_params=None, **kwargs):
        pass

    def evaluate(self, dataset_path):
        return 0.5 + 0.1 * (self.knobs["depth"] - 2) + 0.2 * self.knobs["balanced"]

    def predict(self, queries):
        return [[0.5, 0.5] for _ in queries]

    def dump_parameters(self):
        return {"depth": self.knobs["depth"]}

    def load_parameters(self, params):
        pass
'''


def test_a_finite_space_is_searched_without_repeats_and_the_job_ends_when_it_is_exhausted(platform, setup):
    """8 knob sets, a budget of 20 trials, TPE (which repeats itself on so small a space): 8
    distinct trials, then the sub-job ends (SEARCH_EXHAUSTED) and the job finishes normally."""
    dev, train_id, val_id, template = setup
    eight = template(EIGHT_KNOB_SETS, 'Eight')
    job = platform.create_job(dev, 'eight', train_id, val_id, [eight],
                              {'MODEL_TRIAL_COUNT': 20, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.1},
                              advisor='TPE', seed=0)
    assert job['advisor_config']['allow_repeats'] is False
    job = platform.wait_job(dev, 'eight', timeout=120)
    assert job['status'] == 'STOPPED' and job['error'] is None, job
    (sub,) = job['sub_train_jobs']
    assert sub['status'] == 'STOPPED' and sub['error'] is None and sub['trials'] == {'COMPLETED': 8}
    trials = platform.trials(dev, 'eight')
    knob_sets = {tuple(sorted(t['knobs'].items())) for t in trials}
    assert len(trials) == 8 and len(knob_sets) == 8
    assert all(t['params_bytes'] > 0 for t in trials)   # what ties are broken by
    ended = platform.call('GET', '/events', dev, query_string={'job_id': job['id'], 'kind': 'sub_train_job_ended'})
    assert [(e['data']['cause'], e['data']['trials_completed']) for e in ended] == [('SEARCH_EXHAUSTED', 8)]
    # Allowed repeats: the same space runs until its trial budget.
    platform.create_job(dev, 'repeats', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 10, 'TIME_HOURS': 0.1},
                        advisor='RANDOM', seed=0, allow_repeats=True)
    job = platform.wait_job(dev, 'repeats', timeout=120)
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 10, job
