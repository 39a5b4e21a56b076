"""The admin's Prometheus metrics: who may read them, HTTP requests by route template and status with
latency, the platform's state (jobs, trials, durations, queue depths, replica health), predictors
as scrape targets, and, under gunicorn, the counts of every worker process in every scrape."""
import dataclasses
import glob
import os
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, error_of, recorded_train_job
from singa import lifecycle
from singa.config import Settings
from singa.constants import ServiceType, TrainJobStatus, TrialStatus
from singa.meta_store import inference_jobs, services, trials
from singa.queues import Bye, ServingChannel, TuningChannel


def samples(text: str) -> dict:
    """``{(name, frozenset(labels)): value}`` of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset((k, str(v)) for k, v in labels.items())), 0.0)


def scrape(api, user=None, **kw) -> dict:
    response = api.get('/metrics', user, **kw)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == 'text/plain'
    return samples(response.get_data(as_text=True))


def test_only_admins_or_the_metrics_token_may_read(api, app_dev, admin_user):
    error_of(api.get('/metrics'), 401, 'UnauthenticatedError')
    error_of(api.get('/metrics', app_dev), 403, 'ForbiddenError')
    error_of(api.get('/metrics/targets', app_dev), 403, 'ForbiddenError')
    error_of(api.get('/metrics', token='not-the-metrics-token'), 401, 'InvalidTokenError')
    assert scrape(api, admin_user)


@pytest.mark.parametrize('change, headers', [({'metrics_token': 'scrape-me-0123456789'},
                                               {'Authorization': 'Bearer scrape-me-0123456789'}),
                                              ({'metrics_public': True}, {})])
def test_prometheus_reads_with_the_token_or_when_public(admin_settings, meta_store, change, headers):
    from singa.admin.app import create_app
    app = create_app(dataclasses.replace(admin_settings, **change), meta_store=meta_store, start_reconciler=False)
    response = app.test_client().get('/metrics', headers=headers)
    assert response.status_code == 200 and b'singa_metrics_source_up' in response.data


def test_requests_are_counted_by_route_template_and_status(api, app_dev, admin_user):
    before = scrape(api, admin_user)
    for _ in range(3):
        api.get(f'/datasets/{uuid.uuid4()}', app_dev)                  # 404s of one route, whatever the id
    dataset = api.upload_dataset(app_dev, CLASSIFICATION_CSV).get_json()
    api.get(f'/datasets/{dataset["id"]}', app_dev)
    api.get('/no/such/path', app_dev)
    after = scrape(api, admin_user)
    counted = lambda route, status, method='GET': (  # noqa: E731
        value(after, 'singa_http_requests_total', method=method, route=route, status=status)
        - value(before, 'singa_http_requests_total', method=method, route=route, status=status))
    assert counted('/datasets/{dataset_id}', 404) == 3 and counted('/datasets/{dataset_id}', 200) == 1
    assert counted('/datasets', 200, 'POST') == 1 and counted('<unmatched>', 404) == 1
    assert not [k for k in after if dataset['id'] in str(k)]           # no raw path becomes a label
    latency = value(after, 'singa_http_request_duration_seconds_count', method='GET', route='/datasets/{dataset_id}')
    assert latency >= 4
    assert value(after, 'singa_http_request_duration_seconds_bucket', method='GET', route='/datasets/{dataset_id}',
                 le='+Inf') == latency


def test_the_platform_state_jobs_trials_queues_and_replicas(api, model_dev, admin_user):
    ctx = api.ctx
    model = api.upload_model(model_dev, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(model_dev, CLASSIFICATION_CSV).get_json()
    with ctx.meta_store.transaction() as cur:
        job, sub = recorded_train_job(cur, model_dev.id, dataset['id'], model['id'])
        done = trials.insert_trial(cur, sub_job_id=sub.id, no=1, model_id=uuid.UUID(model['id']), knobs={},
                                   proposal={}, worker_id='w')
        trials.insert_trial(cur, sub_job_id=sub.id, no=2, model_id=uuid.UUID(model['id']), knobs={}, proposal={},
                            worker_id='w')
        cur.execute("UPDATE trials SET started_at = now() - interval '42 seconds' WHERE id = %s", (done.id,))
        trials.finish_trial(cur, done.id, status=TrialStatus.COMPLETED.value, score=0.9)
        inference = inference_jobs.insert_inference_job(cur, owner_id=uuid.UUID(model_dev.id), train_job_id=job.id,
                                                        budget={}, config={}, is_public=False, description='')
        served = services.insert_service(cur, service_type=ServiceType.INFERENCE.value, job_id=inference.id,
                                         trial_id=done.id, replicas=2, container_manager='process',
                                         info={'model_name': 'm'})
        predictor = services.insert_service(cur, service_type=ServiceType.PREDICT.value, job_id=inference.id,
                                            container_manager='process')
        services.set_deployed(cur, predictor.id, container_service_id='c', container_service_name='p',
                              hostname='127.0.0.1', port=31555, ext_hostname=None, ext_port=31555, info={})
        lifecycle.inference_job_ready(cur, inference.id)
    tuning = TuningChannel(ctx.redis, job.id, sub.id)
    serving = ServingChannel(ctx.redis, inference.id)
    try:
        for n in range(3):
            tuning.send(Bye(worker_id=f'w{n}'))
        ctx.redis.lpush(serving.queue(done.id), b'{}', b'{}')
        serving.heartbeat(done.id, 'replica-1', ttl=30)
        found = scrape(api, admin_user)
        assert value(found, 'singa_train_jobs', status=TrainJobStatus.STARTED) == 1
        assert value(found, 'singa_trials', status='COMPLETED') == 1 and value(found, 'singa_trials', status='RUNNING') == 1
        assert value(found, 'singa_trial_duration_seconds_count', status='COMPLETED') == 1
        assert 41 <= value(found, 'singa_trial_duration_seconds_sum', status='COMPLETED') < 60
        assert value(found, 'singa_trial_duration_seconds_bucket', status='COMPLETED', le='30.0') == 0
        assert value(found, 'singa_trial_duration_seconds_bucket', status='COMPLETED', le='60.0') == 1
        assert value(found, 'singa_inference_jobs', status='RUNNING') == 1
        assert value(found, 'singa_queue_depth', queue='tuning_inbox', train_job_id=job.id, sub_train_job_id=sub.id,
                     inference_job_id='', trial_id='', model='m') == 3
        assert value(found, 'singa_queue_depth', queue='serving', train_job_id='', sub_train_job_id='',
                     inference_job_id=inference.id, trial_id=done.id, model='m') == 2
        replicas = {state: value(found, 'singa_inference_replicas', inference_job_id=inference.id, trial_id=done.id,
                                 model='m', state=state) for state in ('live', 'desired')}
        assert replicas == {'live': 1, 'desired': served.replicas}
        assert value(found, 'singa_metrics_source_up', source='postgres') == 1
        assert value(found, 'singa_metrics_source_up', source='redis') == 1
        targets = api.get('/metrics/targets', admin_user).get_json()
        assert targets == [{'targets': ['127.0.0.1:31555'], 'labels': {'inference_job_id': str(inference.id),
                                                                       'singa_service': 'predictor'}}]
    finally:
        tuning.cleanup()
        ctx.redis.delete(serving.queue(done.id), f'{serving.prefix}alive:{done.id}')


@pytest.fixture
def metrics_admin(request, monkeypatch, tmp_path):
    """The admin under gunicorn (two workers) sharing its counts in a folder of this test's."""
    monkeypatch.setenv('SINGA_METRICS_DIR', str(tmp_path / 'metrics'))
    return request.getfixturevalue('admin_server'), tmp_path / 'metrics'


def test_every_gunicorn_worker_is_counted_in_every_scrape(metrics_admin, base_env):
    port, folder = metrics_admin
    settings = Settings.from_env(base_env)
    url = f'http://127.0.0.1:{port}'
    token = requests.post(f'{url}/tokens', json={'email': settings.superadmin_email,
                                                 'password': settings.superadmin_password}).json()['token']
    headers = {'Authorization': f'Bearer {token}', 'Connection': 'close'}

    def health_count() -> float:
        response = requests.get(f'{url}/metrics', headers=headers)
        assert response.status_code == 200
        return value(samples(response.text), 'singa_http_requests_total', method='GET', route='/health', status=200)

    before = health_count()                               # the fixture's own waits for /health are in it
    for _ in range(40):                                   # a connection each: gunicorn's workers share them out
        assert requests.get(f'{url}/health', headers={'Connection': 'close'}).status_code == 200
    pids = {os.path.basename(p).rsplit('_', 1)[1] for p in glob.glob(f'{folder}/*/counter_*.db')}
    assert len(pids) == 2, pids                           # both workers answered some
    # Whichever worker answers a scrape, it counts every worker's requests.
    assert [health_count() - before for _ in range(6)] == [40] * 6
