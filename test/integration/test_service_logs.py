"""The logs of a job's services through the API, after the services are gone: every service logs to
``<storage>/logs/<job id>/<service>-<replica>.log`` (here the process manager writes what each
replica prints), and the admin lists and reads a job's files for whoever may see the job."""
import os

import pytest

from platform_harness import EXAMPLES, running_platform

TREE = os.path.join(EXAMPLES, 'models', 'sk_decision_tree.py')


@pytest.fixture
def platform(settings, meta_store, monkeypatch):
    yield from running_platform(settings, meta_store, monkeypatch)


def test_a_jobs_service_logs_are_listed_and_read_after_its_services_are_gone(platform, iris):
    dev = platform.make_user('dev')
    train_id, val_id = platform.upload_dataset(dev, iris['train']), platform.upload_dataset(dev, iris['val'])
    model = platform.upload_model(dev, TREE, 'SkDecisionTree')
    job = platform.create_job(dev, 'iris', train_id, val_id, [model], {'MODEL_TRIAL_COUNT': 2, 'WORKERS_PER_MODEL': 2})
    assert platform.wait_job(dev, 'iris')['status'] == 'STOPPED'
    platform.wait_for(lambda: not platform.live_services(job['id']), what='services removed')

    logs = platform.call('GET', '/train_jobs/iris/1/logs', dev)
    assert [(f['service_type'], f['replica']) for f in logs] == [('ADVISOR', 1), ('TRAIN', 1), ('TRAIN', 1)]
    assert all(f['model_name'].startswith('SkDecisionTree') and f['size'] > 0 for f in logs)
    folder = os.path.join(platform.settings.storage_dir, 'logs', job['id'])
    assert sorted(os.listdir(folder)) == sorted(f['name'] for f in logs)
    advisor, worker = logs[0]['name'], logs[1]['name']
    assert advisor.startswith('singa-advisor-') and worker.startswith('singa-train-')
    whole = platform.call('GET', f'/train_jobs/iris/1/logs/{advisor}', dev)
    assert whole['offset'] == 0 and whole['size'] == whole['next_offset'] == logs[0]['size']
    assert 'ended STOPPED' in whole['text']
    trained = ''.join(platform.call('GET', f'/train_jobs/iris/1/logs/{f["name"]}', dev)['text'] for f in logs[1:])
    assert trained.count(': COMPLETED (score ') == 2
    # Reading on from an offset, a few bytes at a time, gives the same text.
    part = platform.call('GET', f'/train_jobs/iris/1/logs/{advisor}', dev, query_string={'offset': 10, 'limit': 20})
    assert part == {'name': advisor, 'size': whole['size'], 'offset': 10, 'text': whole['text'][10:30],
                    'next_offset': 30}
    tail = platform.call('GET', f'/train_jobs/iris/1/logs/{advisor}', dev, query_string={'limit': 5})
    assert tail['offset'] == whole['size'] - 5 and tail['text'] == whole['text'][-5:]

    # Names that are not one of the job's files, and users who may not see the job, get a 404.
    for name in ('singa-advisor-00000000-1.log', 'admin-1.log'):
        platform.call('GET', f'/train_jobs/iris/1/logs/{name}', dev, expect=404)
    platform.call('GET', '/train_jobs/iris/1/logs/..%2f..%2fsecrets-1.log', dev, expect=404)
    platform.call('GET', f'/train_jobs/iris/1/logs/{advisor}', dev, expect=400, query_string={'limit': 0})
    other = platform.make_user('other')
    owner = {'user_id': job['owner_id']}
    platform.call('GET', '/train_jobs/iris/1/logs', other, expect=404, query_string=owner)
    platform.call('GET', f'/train_jobs/iris/1/logs/{advisor}', other, expect=404, query_string=owner)
    admin = platform.make_user('boss', 'ADMIN')
    assert platform.call('GET', '/train_jobs/iris/1/logs', admin, query_string=owner) == logs

    # An inference job: its predictor's and its worker's logs, once it has stopped.
    platform.call('POST', '/inference_jobs', dev, json={'app': 'iris'})
    platform.wait_for(lambda: platform.call('GET', '/inference_jobs/iris/-1', dev)['status'] == 'RUNNING',
                      timeout=60, what='inference job RUNNING')
    served = platform.call('POST', '/inference_jobs/iris/-1/stop', dev)
    assert not platform.live_services(served['id'])
    logs = platform.call('GET', '/inference_jobs/iris/-1/logs', dev)
    assert [(f['service_type'], f['replica']) for f in logs] == [('PREDICT', 1), ('INFERENCE', 1)]
    text = platform.call('GET', f'/inference_jobs/iris/-1/logs/{logs[1]["name"]}', dev)['text']
    assert 'serving trial' in text
    platform.call('GET', '/inference_jobs/iris/-1/logs', other, expect=404, query_string=owner)
