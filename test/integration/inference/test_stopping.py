"""Stopping an inference job's services (process mode, real predictor and inference workers): an
idle one stops at once, and a request in flight during the stop still gets its model's answer."""
import concurrent.futures
import time

import pytest
import requests

from platform_harness import prepared_snapshot, running_platform
from serving_templates import predicting_template
from singa.container import process_files as files

# Predicts after sleeping the longest ``sleep`` of its queries, and says when it starts to.
SLEEPY = predicting_template('Sleepy', '''        seconds = max(q.get("sleep", 0) for q in queries)
        if seconds:
            print("sleeping before predicting", flush=True)
            time.sleep(seconds)
        return [[0.5, 0.5] for q in queries]''')
PROMPT_STOP = 1.5       # seconds; an idle service took 2 s and more before it stopped promptly
PLATFORM_SETTINGS = {'predictor_timeout_seconds': 10.0}


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch, **PLATFORM_SETTINGS)


@pytest.fixture(scope='module')
def trained_snapshot(base_env, _migrated_store, iris, tmp_path_factory):
    """A platform with a stopped train job 'sleepy' of the user 'dev', trained once for the module."""
    template = tmp_path_factory.mktemp('templates') / 'sleepy.py'
    template.write_text(SLEEPY)

    def train(platform):
        dev = platform.make_user('dev')
        platform.create_job(dev, 'sleepy', platform.upload_dataset(dev, iris['train']),
                            platform.upload_dataset(dev, iris['val']),
                            [platform.upload_model(dev, str(template), 'Sleepy')], {'MODEL_TRIAL_COUNT': 1})
        assert platform.wait_job(dev, 'sleepy')['status'] == 'STOPPED'

    return prepared_snapshot(base_env, _migrated_store, str(tmp_path_factory.mktemp('sleepy') / 'storage'), train,
                             **PLATFORM_SETTINGS)


@pytest.fixture
def deployed(platform, trained_snapshot):
    """The user 'dev' and its inference job of 'sleepy' (two replicas), running, with a key."""
    platform.restore(trained_snapshot)
    dev = platform.login('dev')
    platform.call('POST', '/inference_jobs', dev, json={'app': 'sleepy', 'replicas': 2})
    job = platform.wait_for(lambda: _running(platform, dev), timeout=60, what='inference job RUNNING')
    key = platform.call('POST', '/inference_jobs/sleepy/-1/keys', dev, json={})['key']
    return dev, job, {'Authorization': f'Bearer {key}'}


def _running(platform, user):
    job = platform.call('GET', '/inference_jobs/sleepy/-1', user)
    return job if job['status'] == 'RUNNING' else None


def _processes(platform, service) -> list:
    """Every live process of ``service``: its replicas and whatever they started in their groups."""
    leaders = [files.ProcessRef.from_dict(r['process']) for r in platform.manager.replica_states(service)]
    groups = {ref.pid for ref in leaders if ref is not None}
    return [pid for pid, fields in files.process_table() if int(fields[2]) in groups and fields[0] not in 'ZX']


def test_an_idle_inference_jobs_services_stop_at_once(platform, deployed):
    """Each service, once asked to stop, is gone (every process of it) well within the time it used to
    take; a client holding a kept-alive connection to the predictor does not hold the stop."""
    dev, job, headers = deployed
    session = requests.Session()        # kept alive, idle
    assert session.post(job['predictor_url'] + '/predict', json={'query': {'sleep': 0}}, headers=headers,
                        timeout=10).ok
    services = platform.manager.list_services({})
    assert sorted(s.info['service_type'] for s in services) == ['INFERENCE', 'PREDICT']
    took = {}
    for service in services:
        processes = _processes(platform, service)
        assert processes
        started = time.monotonic()
        platform.manager.destroy_service(service, timeout=10)
        took[service.info['service_type']] = time.monotonic() - started
        assert not [pid for pid in processes if files.proc_start_time(pid) is not None]
    print('stop times', took)
    assert max(took.values()) < PROMPT_STOP, took
    session.close()


@pytest.mark.parametrize('first', ['PREDICT', 'INFERENCE'])
def test_a_request_in_flight_during_a_stop_gets_its_answer(platform, deployed, first):
    """A request whose batch an inference worker holds when the ``first`` service is stopped is
    answered by the model: a stopping predictor waits for the reply, a stopping worker finishes the
    batch and replies. The rest of the job is stopped through the admin meanwhile."""
    dev, job, headers = deployed
    service = next(s for s in platform.manager.list_services({}) if s.info['service_type'] == first)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        asked = pool.submit(requests.post, job['predictor_url'] + '/predict', json={'query': {'sleep': 1.5}},
                            headers=headers, timeout=15)
        platform.wait_for(lambda: 'sleeping before predicting' in platform.worker_logs(), timeout=10,
                          what='the worker predicting')
        started = time.monotonic()
        platform.manager.destroy_service(service, timeout=10)
        took = time.monotonic() - started
        stopped = platform.call('POST', '/inference_jobs/sleepy/-1/stop', dev)
        answer = asked.result()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body['prediction'] == [0.5, 0.5] and [m['answered'] for m in body['models']] == [True]
    assert took < 1.5 + PROMPT_STOP, took        # the rest of the prediction, then a prompt exit
    assert stopped['status'] == 'STOPPED' and not platform.live_services(job['id'])
