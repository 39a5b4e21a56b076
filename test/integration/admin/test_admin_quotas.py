"""Quotas: each user's limits (an admin's setting, else the platform default), what they use now, and
a clear 403 naming the limit for a request that would go over one."""
import uuid

import pytest
from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, error_of, recorded_train_job
from singa.admin.services import quotas
from singa.client import Client
from singa.config import Settings
from singa.constants import ServiceType
from singa.errors import QuotaExceededError
from singa.meta_store import services
from singa.meta_store import users as users_repo


def quota_of(api, user, of=None):
    response = api.get(f'/users/{(of or user).id}/quota', user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def set_quota(api, admin, user, **limits):
    return api.call('PUT', f'/users/{user.id}/quota', admin, json=limits)


def test_defaults_usage_and_what_an_admin_sets(api, app_dev, admin_user):
    settings = api.ctx.settings
    mine = quota_of(api, app_dev)
    OAS31Validator(api.get('/openapi.json').get_json()['components']['schemas']['Quota']).validate(mine)
    assert mine['limits'] == {'running_jobs': settings.quota_running_jobs, 'workers': settings.quota_workers,
                              'gpus': settings.quota_gpus, 'stored_bytes': settings.quota_stored_bytes}
    assert mine['custom'] == dict.fromkeys(mine['limits']) and mine['updated_by'] is None
    assert mine['usage'] == {'running_jobs': 0, 'workers': 0, 'gpus': 0, 'stored_bytes': 0}
    api.upload_dataset(app_dev, CLASSIFICATION_CSV)
    assert quota_of(api, app_dev)['usage']['stored_bytes'] == len(CLASSIFICATION_CSV)
    changed = set_quota(api, admin_user, app_dev, workers=4, gpus=-1).get_json()
    assert changed['limits']['workers'] == 4 and changed['limits']['gpus'] == -1
    assert changed['limits']['running_jobs'] == settings.quota_running_jobs and changed['updated_by'] == admin_user.id
    assert quota_of(api, admin_user, of=app_dev) == changed
    # A PUT replaces: what it leaves out goes back to the default.
    reset = set_quota(api, admin_user, app_dev).get_json()
    assert reset['custom'] == dict.fromkeys(reset['limits']) and reset['limits'] == mine['limits']
    [event] = [e for e in api.get('/events?kind=quota_changed&limit=1', app_dev).get_json()]
    assert event['owner_id'] == app_dev.id and event['actor_id'] == admin_user.id


def test_stored_bytes_over_the_quota_are_refused_naming_the_limit(api, app_dev, model_dev, admin_user):
    set_quota(api, admin_user, app_dev, stored_bytes=len(CLASSIFICATION_CSV) + 10)
    assert api.upload_dataset(app_dev, CLASSIFICATION_CSV).status_code == 200
    error = error_of(api.upload_dataset(app_dev, CLASSIFICATION_CSV, name='more'), 403, 'QuotaExceededError',
                     field='stored_bytes')
    assert error['details'] == {'limit': 'stored_bytes', 'allowed': len(CLASSIFICATION_CSV) + 10,
                                'in_use': len(CLASSIFICATION_CSV), 'requested': len(CLASSIFICATION_CSV)}
    assert 'stored_bytes quota' in error['message']
    assert len(api.get('/datasets', app_dev).get_json()) == 1          # nothing of the refused upload is left
    set_quota(api, admin_user, model_dev, stored_bytes=10)
    error_of(api.upload_model(model_dev, GOOD_TEMPLATE), 403, 'QuotaExceededError', field='stored_bytes')


def test_jobs_and_workers_over_the_quota_are_refused(api, model_dev, admin_user):
    model = api.upload_model(model_dev, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(model_dev, CLASSIFICATION_CSV).get_json()
    body = {'app': 'q', 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': dataset['id'],
            'val_dataset_id': dataset['id'], 'model_ids': [model['id']], 'budget': {'WORKERS_PER_MODEL': 3}}
    set_quota(api, admin_user, model_dev, workers=2)
    error = error_of(api.post('/train_jobs', model_dev, json=body), 403, 'QuotaExceededError', field='workers')
    assert error['details'] == {'limit': 'workers', 'allowed': 2, 'in_use': 0, 'requested': 3}
    set_quota(api, admin_user, model_dev, running_jobs=0)
    error = error_of(api.post('/train_jobs', model_dev, json=body), 403, 'QuotaExceededError', field='running_jobs')
    assert error['details']['allowed'] == 0
    assert api.get('/train_jobs', model_dev).get_json() == []          # nothing was recorded or started


def test_usage_counts_live_jobs_workers_and_gpus(api, model_dev, admin_user):
    model = api.upload_model(model_dev, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(model_dev, CLASSIFICATION_CSV).get_json()
    owner = uuid.UUID(model_dev.id)
    with api.ctx.meta_store.transaction() as cur:
        job, _ = recorded_train_job(cur, owner, dataset['id'], model['id'])
        for gpus in (1, 1, 0):
            services.insert_service(cur, service_type=ServiceType.TRAIN.value, job_id=job.id, gpus=gpus,
                                    container_manager='swarm')
        services.insert_service(cur, service_type=ServiceType.ADVISOR.value, job_id=job.id, container_manager='swarm')
    usage = quota_of(api, model_dev)['usage']
    assert (usage['running_jobs'], usage['workers'], usage['gpus']) == (1, 3, 2)
    set_quota(api, admin_user, model_dev, gpus=3)
    with api.ctx.meta_store.transaction() as cur:
        user = users_repo.get_user(cur, owner)
        quotas.check(cur, api.ctx.settings, user, gpus=1)
        with pytest.raises(QuotaExceededError) as refused:
            quotas.check(cur, api.ctx.settings, user, gpus=2)
    assert refused.value.details == {'limit': 'gpus', 'allowed': 3, 'in_use': 2, 'requested': 2}


def test_who_may_read_and_set_quotas(api, app_dev, other_app_dev, admin_user, superadmin):
    error_of(set_quota(api, app_dev, other_app_dev, workers=1), 403, 'ForbiddenError')
    error_of(api.get(f'/users/{other_app_dev.id}/quota', app_dev), 404, 'NotFoundError')
    error_of(set_quota(api, admin_user, admin_user, workers=1), 403, 'ForbiddenError')
    error_of(set_quota(api, admin_user, superadmin, workers=1), 403, 'ForbiddenError')
    other_admin = api.post('/users', superadmin, json={'email': 'a2@example.com', 'password': 'sturdy-lantern-42',
                                                       'user_type': 'ADMIN'}).get_json()
    error_of(api.call('PUT', f'/users/{other_admin["id"]}/quota', admin_user, json={'workers': 1}), 403,
             'ForbiddenError')
    assert api.call('PUT', f'/users/{other_admin["id"]}/quota', superadmin, json={'workers': 1}).status_code == 200
    assert quota_of(api, superadmin)['limits'] == dict.fromkeys(('running_jobs', 'workers', 'gpus', 'stored_bytes'),
                                                               -1)
    error_of(api.get(f'/users/{uuid.uuid4()}/quota', admin_user), 404, 'NotFoundError')
    error_of(set_quota(api, admin_user, app_dev, workers=-2), 400, 'InvalidRequestError', field='workers')


def test_the_client_reads_and_sets_quotas(admin_server, base_env):
    settings = Settings.from_env(base_env)
    boss = Client('127.0.0.1', admin_server)
    boss.login(settings.superadmin_email, settings.superadmin_password)
    user = boss.create_user('q@example.com', 'sturdy-lantern-42', 'APP_DEVELOPER')
    assert boss.set_quota(user['id'], running_jobs=1, stored_bytes=100)['limits']['stored_bytes'] == 100
    client = Client('127.0.0.1', admin_server)
    client.login('q@example.com', 'sturdy-lantern-42')
    assert client.get_quota()['limits']['running_jobs'] == 1
    assert boss.get_quota()['limits']['workers'] == -1
