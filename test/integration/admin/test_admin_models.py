"""The /models endpoints: upload checks, visibility, download, deletion."""
import io
import os
import uuid

import pytest

from admin_helpers import GOOD_TEMPLATE, MAX_MODEL_BYTES, error_of, zip_bytes
from singa.meta_store import events


def model_dirs(api) -> list[str]:
    return sorted(os.listdir(os.path.join(api.ctx.settings.storage_dir, 'models')))


def leftovers(api) -> list[str]:
    return [n for n in os.listdir(os.path.join(api.ctx.settings.storage_dir, 'data')) if n.startswith('.upload')]


# Uploading --------------------------------------------------------------------------------------

def test_a_template_is_checked_stored_and_described(api, model_dev):
    response = api.upload_model(model_dev, GOOD_TEMPLATE, name='good', dependencies='["numpy>=1.24", "scikit-learn"]',
                                model_description='a test model', access_right='PUBLIC')
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body['name'] == 'good' and body['model_class'] == 'Good' and body['access_right'] == 'PUBLIC'
    assert body['dependencies'] == ['numpy>=1.24', 'scikit-learn'] and body['owner_id'] == model_dev.id
    assert body['dependencies_env'] is None             # the platform ships both
    assert [k['name'] for k in body['knob_config']['knobs']] == ['kind', 'lr']
    assert body['model_description'] == 'a test model' and body['docker_image'] is None
    with open(os.path.join(api.ctx.settings.storage_dir, 'models', body['id'], 'template.py'), 'rb') as f:
        assert f.read() == GOOD_TEMPLATE
    assert leftovers(api) == []
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.MODEL_CREATED, subject_id=uuid.UUID(body['id']))) == 1


def test_a_zip_template_names_its_module_file(api, model_dev):
    archive = zip_bytes({'pkg/helper.py': 'X = 1\n', 'pkg/model.py': GOOD_TEMPLATE})
    body = api.upload_model(model_dev, archive, file_name='m.zip', model_file_name='pkg/model.py',
                            dependencies='{"NumPy": "", "scipy": ">=1.10", "scikit-learn": "*"}').get_json()
    assert body['dependencies'] == ['NumPy', 'scipy>=1.10', 'scikit-learn'] and body['dependencies_env'] is None
    assert os.path.exists(os.path.join(api.ctx.settings.storage_dir, 'models', body['id'], 'template.zip'))
    error_of(api.upload_model(model_dev, archive, name='m2'), 400, 'InvalidModelError', field='model_file_name')
    error_of(api.upload_model(model_dev, archive, name='m3', model_file_name='pkg/nope.py'), 400,
             'InvalidModelError', field='model_file_name')
    error_of(api.upload_model(model_dev, archive, name='m4', model_file_name='../pkg/model.py'), 400,
             'InvalidRequestError', field='model_file_name')


@pytest.mark.parametrize('source, model_class, reason', [
    (b'def broken(:\n    pass\n', 'Good', 'syntax error'),
    (GOOD_TEMPLATE, 'Missing', 'Missing not found'),
    (b'class Good:\n    pass\n', 'Good', 'not a BaseModel subclass'),
    (b'import no_such_module_anywhere\n', 'Good', 'ModuleNotFoundError'),
    (GOOD_TEMPLATE.replace(b'FloatKnob(1e-4', b'FloatKnob(1e4'), 'Good', 'bad knob config'),
])
def test_a_template_that_does_not_import_is_400_with_the_reason(api, model_dev, source, model_class, reason):
    response = api.upload_model(model_dev, source, model_class=model_class)
    error = error_of(response, 400, 'InvalidModelError')
    assert reason in error['message'], error
    assert model_dirs(api) == [] and leftovers(api) == []


@pytest.mark.parametrize('form, field', [
    ({'dependencies': '["numpy @ https://evil.example/numpy.whl"]'}, 'dependencies'),
    ({'dependencies': '["--index-url=https://evil.example"]'}, 'dependencies'),
    ({'dependencies': '["./local/package"]'}, 'dependencies'),
    ({'dependencies': '["numpy; python_version < \'3\'"]'}, 'dependencies'),
    ({'dependencies': '["numpy && rm -rf /"]'}, 'dependencies'),
    ({'dependencies': '{"numpy": "latest!"}'}, 'dependencies'),
    ({'dependencies': '[1]'}, 'dependencies'),
    ({'dependencies': '"numpy"'}, 'dependencies'),
    ({'dependencies': 'numpy'}, 'dependencies'),
    ({'docker_image': 'UPPER/Case'}, 'docker_image'),
    ({'docker_image': 'repo/name:tag; rm -rf /'}, 'docker_image'),
    ({'access_right': 'SECRET'}, 'access_right'),
    ({'model_class': 'not a class'}, 'model_class'),
    ({'task': 'FORECASTING'}, 'task'),
    ({'name': ''}, 'name'),
    ({'colour': 'red'}, 'colour'),
])
def test_template_fields_are_checked(api, model_dev, form, field):
    error_of(api.upload_model(model_dev, GOOD_TEMPLATE, **form), 400, 'InvalidRequestError', field=field)
    assert leftovers(api) == []


def test_a_keyword_as_model_class_is_a_class_no_template_can_have(api, model_dev):
    error = error_of(api.upload_model(model_dev, GOOD_TEMPLATE, model_class='class'), 400, 'InvalidModelError',
                     field='model_class')
    assert 'keyword' in error['message']


def test_valid_docker_images_are_accepted(api, model_dev):
    for i, image in enumerate(('singa-worker:latest', 'localhost:5000/team/worker:1.0',
                               'repo/name@sha256:' + 'a' * 64)):
        body = api.upload_model(model_dev, GOOD_TEMPLATE, name=f'm{i}', docker_image=image).get_json()
        assert body['docker_image'] == image


def test_missing_fields_are_400(api, model_dev):
    form = {'name': 'm', 'task': 'TABULAR_CLASSIFICATION', 'model_file_bytes': (io.BytesIO(GOOD_TEMPLATE), 'm.py')}
    error_of(api.post('/models', model_dev, data=form, content_type='multipart/form-data'),
             400, 'InvalidRequestError', field='model_class')
    error_of(api.post('/models', model_dev, data={'name': 'm', 'task': 'TABULAR_CLASSIFICATION', 'model_class': 'G'},
                      content_type='multipart/form-data'), 400, 'InvalidRequestError', field='model_file_bytes')
    error_of(api.upload_model(model_dev, b''), 400, 'InvalidModelError')


def test_an_oversized_template_is_413(api, model_dev):
    big = GOOD_TEMPLATE + b'#' * MAX_MODEL_BYTES
    error_of(api.upload_model(model_dev, big), 413, 'PayloadTooLargeError')
    error_of(api.upload_model(model_dev, big * 8), 413, 'PayloadTooLargeError')
    assert model_dirs(api) == [] and leftovers(api) == []


def test_roles_and_names(api, model_dev, other_dev, app_dev, admin_user):
    error_of(api.upload_model(app_dev, GOOD_TEMPLATE), 403, 'ForbiddenError')
    error_of(api.upload_model(None, GOOD_TEMPLATE), 401, 'UnauthenticatedError')
    assert api.upload_model(model_dev, GOOD_TEMPLATE, name='same').status_code == 200
    error_of(api.upload_model(model_dev, GOOD_TEMPLATE, name='same'), 409, 'ConflictError', field='name')
    assert api.upload_model(other_dev, GOOD_TEMPLATE, name='same').status_code == 200
    assert api.upload_model(admin_user, GOOD_TEMPLATE, name='same').status_code == 200


# Visibility and download ------------------------------------------------------------------------

@pytest.fixture
def templates(api, model_dev, other_dev):
    return {
        'mine': api.upload_model(model_dev, GOOD_TEMPLATE, name='mine').get_json(),
        'public': api.upload_model(other_dev, GOOD_TEMPLATE, name='public', access_right='PUBLIC',
                                   task='TABULAR_REGRESSION').get_json(),
        'private': api.upload_model(other_dev, GOOD_TEMPLATE, name='private').get_json(),
    }


def test_available_templates_are_own_and_public_and_all_for_admins(api, model_dev, app_dev, admin_user, templates):
    names = lambda user, query='': [m['name'] for m in api.get('/models/available' + query, user).get_json()]  # noqa
    assert names(model_dev) == ['mine', 'public']
    assert names(app_dev) == ['public']
    assert names(admin_user) == ['mine', 'public', 'private']
    assert names(model_dev, '?task=TABULAR_REGRESSION') == ['public']
    error_of(api.get('/models/available?task=nope', model_dev), 400, 'InvalidRequestError', field='task')
    error_of(api.get('/models/available'), 401, 'UnauthenticatedError')


def test_reading_a_template_follows_visibility(api, model_dev, app_dev, admin_user, templates):
    assert api.get(f'/models/{templates["mine"]["id"]}', model_dev).get_json() == templates['mine']
    assert api.get(f'/models/{templates["public"]["id"]}', app_dev).status_code == 200
    assert api.get(f'/models/{templates["private"]["id"]}', admin_user).status_code == 200
    for user in (model_dev, app_dev):
        error_of(api.get(f'/models/{templates["private"]["id"]}', user), 404, 'NotFoundError')
    error_of(api.get('/models/123', model_dev), 404, 'NotFoundError')
    error_of(api.get(f'/models/{uuid.uuid4()}', model_dev), 404, 'NotFoundError')


def test_downloading_a_template_file(api, model_dev, app_dev, admin_user, templates):
    for user, key in ((model_dev, 'mine'), (model_dev, 'public'), (admin_user, 'private')):
        response = api.get(f'/models/{templates[key]["id"]}/model_file', user)
        assert response.status_code == 200 and response.data == GOOD_TEMPLATE
        assert response.mimetype == 'application/octet-stream'
    error_of(api.get(f'/models/{templates["private"]["id"]}/model_file', model_dev), 404, 'NotFoundError')
    error_of(api.get(f'/models/{templates["public"]["id"]}/model_file', app_dev), 403, 'ForbiddenError')
    error_of(api.get(f'/models/{templates["public"]["id"]}/model_file'), 401, 'UnauthenticatedError')


# Deleting ---------------------------------------------------------------------------------------

def _job_using(api, owner_id, model_id, status, inference_status=None):
    job_id, sub_id = uuid.uuid4(), uuid.uuid4()
    with api.ctx.meta_store.transaction() as cur:
        cur.execute("INSERT INTO train_jobs (id, owner_id, app, app_version, task, budget, status) "
                    "VALUES (%s, %s, %s, 1, 'TABULAR_CLASSIFICATION', '{}', %s)",
                    (job_id, owner_id, f'app-{job_id}', 'STOPPED' if inference_status else status))
        cur.execute('INSERT INTO sub_train_jobs (id, train_job_id, model_id, status) VALUES (%s, %s, %s, %s)',
                    (sub_id, job_id, model_id, 'STOPPED' if inference_status else status))
        if inference_status:
            cur.execute('INSERT INTO inference_jobs (id, owner_id, train_job_id, status) VALUES (%s, %s, %s, %s)',
                        (uuid.uuid4(), owner_id, job_id, inference_status))


def test_deleting_an_unused_template_removes_it(api, model_dev, templates):
    model_id = templates['mine']['id']
    assert api.delete(f'/models/{model_id}', model_dev).get_json() == {'id': model_id, 'deleted': True}
    error_of(api.get(f'/models/{model_id}', model_dev), 404, 'NotFoundError')
    assert model_id not in model_dirs(api)
    with api.ctx.meta_store.transaction() as cur:
        cur.execute('SELECT count(*) AS n FROM models WHERE id = %s', (model_id,))
        assert cur.fetchone()['n'] == 0


def test_who_may_delete(api, model_dev, app_dev, admin_user, templates):
    error_of(api.delete(f'/models/{templates["public"]["id"]}', model_dev), 403, 'ForbiddenError')
    error_of(api.delete(f'/models/{templates["private"]["id"]}', model_dev), 404, 'NotFoundError')
    error_of(api.delete(f'/models/{templates["public"]["id"]}', app_dev), 403, 'ForbiddenError')
    error_of(api.delete('/models/not-an-id', model_dev), 404, 'NotFoundError')
    assert api.delete(f'/models/{templates["private"]["id"]}', admin_user).status_code == 200


@pytest.mark.parametrize('status, inference_status', [('RUNNING', None), ('STARTED', None), ('STOPPING', None),
                                                      (None, 'RUNNING')])
def test_a_template_in_live_use_is_409(api, model_dev, templates, status, inference_status):
    _job_using(api, model_dev.id, templates['mine']['id'], status, inference_status)
    error = error_of(api.delete(f'/models/{templates["mine"]["id"]}', model_dev), 409, 'ConflictError')
    assert error['details']['train_job_ids' if status else 'inference_job_ids']
    assert api.get(f'/models/{templates["mine"]["id"]}', model_dev).status_code == 200


def test_a_template_only_finished_jobs_used_is_soft_deleted(api, model_dev, templates):
    model_id = templates['mine']['id']
    _job_using(api, model_dev.id, model_id, 'STOPPED')
    assert api.delete(f'/models/{model_id}', model_dev).status_code == 200
    error_of(api.get(f'/models/{model_id}', model_dev), 404, 'NotFoundError')
    assert 'mine' not in [m['name'] for m in api.get('/models/available', model_dev).get_json()]
    with api.ctx.meta_store.transaction() as cur:
        cur.execute('SELECT deleted_at FROM models WHERE id = %s', (model_id,))
        assert cur.fetchone()['deleted_at'] is not None
    assert model_id in model_dirs(api)                      # old trials can still load it
    assert api.upload_model(model_dev, GOOD_TEMPLATE, name='mine').status_code == 200
    assert [m['name'] for m in api.get('/models/available', model_dev).get_json()] == ['public', 'mine']
