"""The /datasets endpoints: formats and statistics, limits, ownership, deletion."""
import io
import os
import uuid
import zipfile

import pytest

from admin_helpers import (CLASSIFICATION_CSV, MAX_DATASET_BYTES, REGRESSION_CSV, class_folders_zip, csv_bytes,
                           error_of, images_csv_zip, png, zip_bytes)
from singa.meta_store import events


def storage_files(api) -> list[str]:
    data_dir = os.path.join(api.ctx.settings.storage_dir, 'data')
    return sorted(os.listdir(data_dir))


# Formats and statistics -------------------------------------------------------------------------

def test_a_classification_csv_is_stored_with_its_statistics(api, app_dev):
    response = api.upload_dataset(app_dev, CLASSIFICATION_CSV, name=' train ')
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body['name'] == 'train' and body['task'] == 'TABULAR_CLASSIFICATION'
    assert body['owner_id'] == app_dev.id and body['size_bytes'] == len(CLASSIFICATION_CSV)
    assert body['stat'] == {'format': 'csv', 'rows': 3, 'columns': 3, 'column_names': ['a', 'b', 'label'],
                            'target': 'label', 'classes': {'x': 2, 'y': 1}, 'class_count': 2}
    assert storage_files(api) == [f'{body["id"]}.csv']
    with open(os.path.join(api.ctx.settings.storage_dir, 'data', f'{body["id"]}.csv'), 'rb') as f:
        assert f.read() == CLASSIFICATION_CSV
    with api.ctx.meta_store.transaction() as cur:
        assert len(events.list_events(cur, kind=events.DATASET_CREATED, subject_id=uuid.UUID(body['id']))) == 1


def test_a_regression_csv_reports_its_target_range(api, app_dev):
    body = api.upload_dataset(app_dev, REGRESSION_CSV, task='TABULAR_REGRESSION').get_json()
    assert body['stat']['rows'] == 3
    assert (body['stat']['target_min'], body['stat']['target_max'], body['stat']['target_mean']) == (0.5, 4.0, 2.0)


def test_an_images_csv_zip_reports_classes_and_image_sizes(api, app_dev):
    body = api.upload_dataset(app_dev, images_csv_zip(), task='IMAGE_CLASSIFICATION', file_name='d.zip').get_json()
    assert body['stat'] == {'format': 'images_csv', 'images': 3, 'classes': {'0': 1, '1': 2}, 'class_count': 2,
                            'class_kind': 'integer', 'image_sizes': [[4, 4], [8, 6]]}
    assert storage_files(api) == [f'{body["id"]}.zip']


def test_a_zip_of_class_folders_is_accepted(api, app_dev):
    body = api.upload_dataset(app_dev, class_folders_zip(), task='IMAGE_CLASSIFICATION').get_json()
    assert body['stat']['format'] == 'class_folders'
    assert body['stat']['classes'] == {'cat': 2, 'dog': 1} and body['stat']['image_sizes'] == [[5, 5]]
    nested = zip_bytes({'root/cat/1.png': png(2, 2), 'root/dog/1.png': png(2, 2)})
    assert api.upload_dataset(app_dev, nested, task='IMAGE_CLASSIFICATION').get_json()['stat']['classes'] == \
        {'cat': 1, 'dog': 1}


def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        z.writestr('images.csv', 'path,class\na.png,0\n')
        z.writestr('a.png', b'\0' * (8 << 20))
    return buf.getvalue()


@pytest.mark.parametrize('task, data, reason', [
    ('TABULAR_CLASSIFICATION', b'', 'empty'),
    ('TABULAR_CLASSIFICATION', csv_bytes(('a', 'b')), 'no data rows'),
    ('TABULAR_CLASSIFICATION', csv_bytes(('a', 'b'), (1, 2), (3,)), 'line 3 has 1 columns; the header has 2'),
    ('TABULAR_CLASSIFICATION', csv_bytes(('a', 'a'), (1, 2)), "repeats column 'a'"),
    ('TABULAR_CLASSIFICATION', b'a,b\n\xff\xfe,1\n', 'not UTF-8'),
    ('TABULAR_CLASSIFICATION', images_csv_zip(), 'must be a CSV file, not a zip'),
    ('IMAGE_CLASSIFICATION', CLASSIFICATION_CSV, 'must be a zip archive'),
    ('IMAGE_CLASSIFICATION', images_csv_zip(**{'img/2.png': None}), "names 'img/2.png', which is not in the zip"),
    ('IMAGE_CLASSIFICATION', images_csv_zip(**{'images.csv': 'file,label\nimg/0.png,0\n'}), 'header "path,class"'),
    ('IMAGE_CLASSIFICATION', images_csv_zip(**{'images.csv': 'path,class\nimg/0.png,\n'}), 'has no class'),
    ('IMAGE_CLASSIFICATION', images_csv_zip(**{'images.csv': 'path,class\nimg/0.png,-1\n'}), 'must be 0..k-1'),
    ('IMAGE_CLASSIFICATION', images_csv_zip(**{'images.csv': 'path,class\n'}), 'lists no images'),
    ('IMAGE_CLASSIFICATION', zip_bytes({'a.png': png(2, 2)}), 'one folder per class'),
    ('IMAGE_CLASSIFICATION', zip_bytes({'../evil/a.png': png(2, 2)}), 'unsafe member name'),
    ('IMAGE_CLASSIFICATION', zip_bytes({'/abs/a.png': png(2, 2)}), 'unsafe member name'),
    ('IMAGE_CLASSIFICATION', _bomb(), 'zip bomb'),
    ('IMAGE_CLASSIFICATION', b'PK\x03\x04 not really a zip', 'must be a zip archive'),
])
def test_a_dataset_of_the_wrong_format_is_400_with_the_reason(api, app_dev, task, data, reason):
    response = api.upload_dataset(app_dev, data, task=task)
    error = error_of(response, 400, 'InvalidDatasetError', field='dataset')
    assert reason in error['message'], error
    assert storage_files(api) == []


# The target a train job names (train_args), by default the last column --------------------------

# Like SingaAuto's titanic example: the target is not the last column, and the last one has gaps.
PASSENGERS_CSV = csv_bytes(('age', 'survived', 'fare', 'embarked'), (22, 0, 7.25, 'S'), (38, 1, 71.3, ''),
                           (26, 1, 7.9, 'Q'))


def _tabular_job(train, val, **train_args) -> dict:
    return {'app': 'passengers', 'task': train.get('task', 'TABULAR_CLASSIFICATION'), 'train_dataset_id': train['id'],
            'val_dataset_id': val['id'], 'model_ids': [str(uuid.uuid4())], 'train_args': train_args}


def test_a_csv_whose_last_column_cannot_be_the_target_is_stored_and_says_why(api, app_dev):
    body = api.upload_dataset(app_dev, PASSENGERS_CSV).get_json()
    assert body['stat']['rows'] == 3 and body['stat']['target'] is None
    assert body['stat']['target_error'] == ("the last column cannot be the default target: CSV line 3 has no "
                                            "value in the target column 'embarked'")
    regression = api.upload_dataset(app_dev, csv_bytes(('a', 'y'), (1, 2.5), (2, 'high')),
                                    task='TABULAR_REGRESSION').get_json()
    assert "line 3: the regression target 'y' must be a finite number" in regression['stat']['target_error']


def test_a_train_job_is_held_to_the_target_and_features_it_names(api, app_dev):
    """Only its datasets are checked here: a valid choice gets as far as the (missing) template."""
    train = api.upload_dataset(app_dev, PASSENGERS_CSV, name='train').get_json()
    val = api.upload_dataset(app_dev, PASSENGERS_CSV, name='val').get_json()
    for train_args, reason in (
            ({}, "the train dataset: the last column cannot be the default target: CSV line 3 has no value in "
                 "the target column 'embarked'; name its target column in train_args"),
            ({'target': 'embarked'}, "CSV line 3 has no value in the target column 'embarked'"),
            ({'target': 'survivor'}, "the train dataset has no column 'survivor'; its columns: age, survived, fare, "
                                     "embarked"),
            ({'target': 'survived', 'features': ['age', 'sex']}, "has no column 'sex'"),
            ({'target': 'survived', 'features': 'age'}, 'features must be a list of column names'),
            ({'target': 3}, 'target must be a column name')):
        error = error_of(api.post('/train_jobs', app_dev, json=_tabular_job(train, val, **train_args)), 400,
                         'InvalidRequestError', 'train_args')
        assert reason in error['message'], (train_args, error)
    for train_args in ({'target': 'survived'}, {'target': 'survived', 'features': ['age', 'fare']}):
        error_of(api.post('/train_jobs', app_dev, json=_tabular_job(train, val, **train_args)), 404, 'NotFoundError',
                 'model_ids')
    numbers = csv_bytes(('x', 'y', 'note'), (1, 2.5, 'a'), (2, 'high', 'b'))
    train = dict(api.upload_dataset(app_dev, numbers, task='TABULAR_REGRESSION').get_json(), task='TABULAR_REGRESSION')
    error = error_of(api.post('/train_jobs', app_dev, json=_tabular_job(train, train, target='y')), 400,
                     'InvalidRequestError', 'train_args')
    assert "line 3: the regression target 'y' must be a finite number; got 'high'" in error['message']
    error_of(api.post('/train_jobs', app_dev, json=_tabular_job(train, train, target='x')), 404, 'NotFoundError',
             'model_ids')


def test_an_oversized_dataset_is_413_and_leaves_nothing(api, app_dev):
    big = csv_bytes(('a', 'b')) + b'1,2\n' * (MAX_DATASET_BYTES // 4 + 1)
    error_of(api.upload_dataset(app_dev, big), 413, 'PayloadTooLargeError')
    huge = big * 3
    error_of(api.upload_dataset(app_dev, huge), 413, 'PayloadTooLargeError')
    assert storage_files(api) == []


@pytest.mark.parametrize('form, field', [
    ({'name': None}, 'name'),
    ({'task': None}, 'task'),
    ({'task': 'SPEECH_RECOGNITION'}, 'task'),     # SingaAuto's, not one of ours (yet)
    ({'name': '   '}, 'name'),
    ({'name': 'x' * 300}, 'name'),
    ({'color': 'blue'}, 'color'),
    ({'dataset': None}, 'dataset'),
    ({'extra_file': (io.BytesIO(b'x'), 'x.csv')}, 'extra_file'),
])
def test_dataset_forms_are_checked_field_by_field(api, app_dev, form, field):
    full = {'name': 'ds', 'task': 'TABULAR_CLASSIFICATION', 'dataset': (io.BytesIO(CLASSIFICATION_CSV), 'a.csv')}
    full.update(form)
    full = {k: v for k, v in full.items() if v is not None}
    response = api.post('/datasets', app_dev, data=full, content_type='multipart/form-data')
    error_of(response, 400, 'InvalidRequestError', field=field)
    assert storage_files(api) == []


def test_a_dataset_sent_as_json_is_400(api, app_dev):
    error_of(api.post('/datasets', app_dev, json={'name': 'x', 'task': 'TABULAR_REGRESSION'}),
             400, 'InvalidRequestError')


def test_every_role_may_upload_but_only_when_logged_in(api, model_dev, admin_user):
    for user in (model_dev, admin_user):
        assert api.upload_dataset(user, CLASSIFICATION_CSV).status_code == 200
    error_of(api.upload_dataset(None, CLASSIFICATION_CSV), 401, 'UnauthenticatedError')
    assert len(storage_files(api)) == 2


# Listing, getting and ownership -----------------------------------------------------------------

@pytest.fixture
def two_owners(api, app_dev, other_app_dev):
    mine = [api.upload_dataset(app_dev, CLASSIFICATION_CSV, name='c').get_json(),
            api.upload_dataset(app_dev, REGRESSION_CSV, name='r', task='TABULAR_REGRESSION').get_json()]
    theirs = api.upload_dataset(other_app_dev, CLASSIFICATION_CSV, name='theirs').get_json()
    return mine, theirs


def test_users_list_only_their_own_datasets(api, app_dev, other_app_dev, two_owners):
    mine, theirs = two_owners
    assert [d['name'] for d in api.get('/datasets', app_dev).get_json()] == ['c', 'r']
    assert [d['name'] for d in api.get('/datasets?task=TABULAR_REGRESSION', app_dev).get_json()] == ['r']
    assert [d['name'] for d in api.get('/datasets', other_app_dev).get_json()] == ['theirs']
    error_of(api.get(f'/datasets?owner_id={other_app_dev.id}', app_dev), 403, 'ForbiddenError', field='owner_id')
    error_of(api.get('/datasets?task=AUDIO', app_dev), 400, 'InvalidRequestError', field='task')
    error_of(api.get('/datasets?owner_id=nope', app_dev), 400, 'InvalidRequestError', field='owner_id')
    error_of(api.get('/datasets?page=2', app_dev), 400, 'InvalidRequestError', field='page')
    error_of(api.get('/datasets'), 401, 'UnauthenticatedError')


def test_admins_may_list_and_read_another_users_datasets(api, admin_user, app_dev, two_owners):
    mine, _ = two_owners
    listed = api.get(f'/datasets?owner_id={app_dev.id}', admin_user).get_json()
    assert [d['id'] for d in listed] == [d['id'] for d in mine]
    assert api.get('/datasets', admin_user).get_json() == []
    assert api.get(f'/datasets/{mine[0]["id"]}', admin_user).get_json() == mine[0]


def test_another_users_dataset_is_not_found(api, app_dev, two_owners):
    mine, theirs = two_owners
    assert api.get(f'/datasets/{mine[0]["id"]}', app_dev).get_json() == mine[0]
    error = error_of(api.get(f'/datasets/{theirs["id"]}', app_dev), 404, 'NotFoundError')
    assert error['resource'] == 'dataset'
    error_of(api.delete(f'/datasets/{theirs["id"]}', app_dev), 404, 'NotFoundError')
    error_of(api.get(f'/datasets/{uuid.uuid4()}', app_dev), 404, 'NotFoundError')
    error_of(api.get('/datasets/not-a-uuid', app_dev), 404, 'NotFoundError')
    error_of(api.delete('/datasets/not-a-uuid', app_dev), 404, 'NotFoundError')


# Deleting ---------------------------------------------------------------------------------------

def _train_job(api, owner_id, dataset_id, status):
    with api.ctx.meta_store.transaction() as cur:
        cur.execute("INSERT INTO train_jobs (id, owner_id, app, app_version, task, budget, train_dataset_id, "
                    "val_dataset_id, status) VALUES (%s, %s, 'app', %s, 'TABULAR_CLASSIFICATION', '{}', %s, %s, %s)",
                    (uuid.uuid4(), owner_id, abs(hash(status)) % 1000, dataset_id, dataset_id, status))


def test_deleting_a_dataset_removes_its_file_and_row(api, app_dev, two_owners):
    mine, _ = two_owners
    response = api.delete(f'/datasets/{mine[0]["id"]}', app_dev)
    assert response.get_json() == {'id': mine[0]['id'], 'deleted': True}
    error_of(api.get(f'/datasets/{mine[0]["id"]}', app_dev), 404, 'NotFoundError')
    assert f'{mine[0]["id"]}.csv' not in storage_files(api)
    error_of(api.delete(f'/datasets/{mine[0]["id"]}', app_dev), 404, 'NotFoundError')


def test_a_dataset_in_use_by_a_live_train_job_is_409(api, app_dev, admin_user, two_owners):
    mine, _ = two_owners
    _train_job(api, app_dev.id, mine[0]['id'], 'STOPPED')
    _train_job(api, app_dev.id, mine[1]['id'], 'RUNNING')
    error = error_of(api.delete(f'/datasets/{mine[1]["id"]}', admin_user), 409, 'ConflictError')
    assert len(error['details']['train_job_ids']) == 1
    assert f'{mine[1]["id"]}.csv' in storage_files(api)
    assert api.delete(f'/datasets/{mine[0]["id"]}', app_dev).status_code == 200
