"""Bad input is a 4xx that names the field at fault, never a 500 (the test client fails on any 500):
each case measured once as a 500 or a job that would never end, and the shared checks behind them."""
import json
import math
import uuid

import pytest

from admin_helpers import CLASSIFICATION_CSV, error_of
from singa.admin.routes.fields import MAX_APP_VERSION, Field
from singa.errors import InvalidRequestError


def test_a_token_with_a_non_ascii_signature_is_a_401_without_logging_in(api, app_dev):
    payload = app_dev.token.split('.')[0]
    for token in (payload + '.' + 'é' * 43, payload + '.\u00ff', 'é.é', payload):
        error_of(api.get('/users/me', headers={'Authorization': f'Bearer {token}'}), 401, 'InvalidTokenError')


@pytest.mark.parametrize('field, body', [
    ('email', {'email': 'a\x00@example.com', 'password': 'password-123'}),
    ('password', {'email': 'superadmin@singaauto', 'password': 'pass\x00word'}),
])
def test_nul_in_the_login_is_a_400_naming_the_field(api, field, body):
    error = error_of(api.post('/tokens', json=body), 400, 'InvalidRequestError', field)
    assert 'control characters' in error['message'] and 'U+0000' in error['message']


def test_control_characters_are_refused_in_every_kind_of_text_field(api, superadmin, app_dev, model_dev):
    error_of(api.post('/users', superadmin, json={'email': 'x\x00@example.com', 'password': 'password-123',
                                                  'user_type': 'APP_DEVELOPER'}), 400, 'InvalidRequestError', 'email')
    error_of(api.delete('/users', superadmin, json={'email': 'nobody\x00@x'}), 400, 'InvalidRequestError', 'email')
    error_of(api.upload_dataset(app_dev, CLASSIFICATION_CSV, name='iris\x07'), 400, 'InvalidRequestError', 'name')
    error_of(api.upload_model(model_dev, b'', name='m\x1b[31m'), 400, 'InvalidRequestError', 'name')
    error_of(api.get('/datasets?task=%00', app_dev), 400, 'InvalidRequestError', 'task')
    error_of(api.post('/train_jobs', app_dev, json=_job(train_args={'depth': 'a\x00b'})), 400,
             'InvalidRequestError', 'train_args')
    error_of(api.post('/train_jobs', app_dev, json=_job(train_args={'k\x00': 1})), 400, 'InvalidRequestError',
             'train_args')
    # A multi-line field takes line breaks and tabs, and nothing else below U+0020.
    body = {'app': 'iris', 'description': 'line one\n\tline two\x00'}
    error_of(api.post('/inference_jobs', app_dev, json=body), 400, 'InvalidRequestError', 'description')
    error_of(api.post('/inference_jobs', app_dev, json=dict(body, description='line one\n\tline two')), 404,
             'NotFoundError')


def test_numbers_out_of_range_are_400s_naming_the_field(api, app_dev):
    for query, field in (('offset=9223372036854775808', 'offset'), ('offset=-1', 'offset'), ('limit=0', 'limit'),
                         ('max_count=101', 'max_count'), ('limit=nan', 'limit')):
        error_of(api.get(f'/train_jobs/iris/1/trials?{query}', app_dev), 400, 'InvalidRequestError', field)
    error_of(api.get(f'/trials/{uuid.uuid4()}/logs?after_id={2 ** 64}', app_dev), 400, 'InvalidRequestError',
             'after_id')
    for change, field in (({'seed': 2 ** 100}, 'seed'), ({'seed': -1}, 'seed'), ({'seed': 1.5}, 'seed'),
                          ({'budget': {'TIME_HOURS': 1e-9}}, 'budget'), ({'budget': {'TIME_HOURS': 721}}, 'budget'),
                          ({'budget': {'MODEL_TRIAL_COUNT': 10 ** 12}}, 'budget'),
                          ({'budget': {'MODEL_TRIAL_COUNT': 0}}, 'budget'),
                          ({'budget': {'WORKERS_PER_MODEL': 33}}, 'budget'), ({'budget': {'GPU_COUNT': 65}}, 'budget'),
                          ({'max_trial_retries': 11}, 'max_trial_retries'),
                          ({'model_ids': [str(uuid.uuid4())] * 101}, 'model_ids')):
        error = error_of(api.post('/train_jobs', app_dev, json=_job(**change)), 400, 'InvalidRequestError', field)
        assert field in error['message'] or 'budget' in error['message']
    # In range, the same request gets as far as the (missing) datasets.
    ok = _job(seed=2 ** 32 - 1, budget={'TIME_HOURS': 3 / 3600, 'MODEL_TRIAL_COUNT': 10_000})
    error_of(api.post('/train_jobs', app_dev, json=ok), 404, 'NotFoundError', 'train_dataset_id')


def test_json_that_python_accepts_but_json_does_not_is_a_400(api, app_dev):
    for raw in (b'{"app": "iris", "max_wait_ms": NaN}', b'{"app": "iris", "max_wait_ms": Infinity}',
                b'{"app": "iris", "max_wait_ms": 1e999}'):
        response = api.post('/inference_jobs', app_dev, data=raw, content_type='application/json')
        assert response.status_code == 400, response.get_data(as_text=True)
    nested = b'{"app": "iris", "train_args": ' + b'[' * 100_000 + b']' * 100_000 + b'}'
    error_of(api.post('/train_jobs', app_dev, data=nested, content_type='application/json'), 400,
             'InvalidRequestError')
    deep = json.dumps(_job(train_args={'a': json.loads('[' * 40 + ']' * 40)}))
    error_of(api.post('/train_jobs', app_dev, data=deep, content_type='application/json'), 400,
             'InvalidRequestError', 'train_args')


def test_a_path_no_job_could_have_is_a_404_not_a_405(api, app_dev):
    for path in (f'/inference_jobs/iris/{MAX_APP_VERSION + 1}/keys', '/inference_jobs/iris/-2/keys',
                 '/train_jobs/a%00b/1', '/train_jobs/a%20b', f'/train_jobs/{"x" * 65}/1/trials'):
        error_of(api.get(path, app_dev), 404, 'NotFoundError')


def test_the_fields_own_checks():
    text = Field('name', str, max_length=5)
    assert text.parse('abc', from_text=False) == 'abc'
    for bad in ('toolong', 'a\x00', 'a\ud800', 'a\x85', 'a\nb'):
        with pytest.raises(InvalidRequestError) as e:
            text.parse(bad, from_text=False)
        assert e.value.field == 'name'
    assert Field('note', str, max_length=9, multiline=True).parse('a\r\n\tb', from_text=False) == 'a\r\n\tb'
    count = Field('n', int, minimum=1, maximum=3)
    assert count.parse(2.0, from_text=False) == 2 and count.parse('3', from_text=True) == 3
    number = Field('x', float, minimum=0, maximum=1)
    for bad in (math.nan, math.inf, 2 ** 2000, 1.5, True):
        with pytest.raises(InvalidRequestError):
            number.parse(bad, from_text=False)
    for undeclared in (dict(kind=int), dict(kind=float, minimum=0), dict(kind=str), dict(kind=list, max_items=3)):
        with pytest.raises(TypeError):
            Field('x', **undeclared)


def test_every_request_field_is_documented_with_its_limits(api):
    """Text has a pattern and a maximum length (or a format that bounds it: a UUID, an RFC 3339 date-time),
    numbers a range, lists a maximum size."""
    document = api.get('/openapi.json').get_json()

    def walk(schema, where):
        schema = schema or {}
        kind = schema.get('type')
        if kind == 'string' and schema.get('format') not in ('uuid', 'binary', 'date-time') and 'enum' not in schema:
            assert 'pattern' in schema and 'maxLength' in schema, where
        if kind in ('integer', 'number'):
            assert 'minimum' in schema and 'maximum' in schema, where
        if kind == 'array':
            assert 'maxItems' in schema, where
        for name, child in (schema.get('properties') or {}).items():
            walk(child, f'{where}.{name}')
        if isinstance(schema.get('items'), dict):
            walk(schema['items'], f'{where}[]')

    for path, item in document['paths'].items():
        for method, op in item.items():
            if method == 'parameters':
                for parameter in op:
                    if parameter['name'] not in ('page', 'filename'):      # the web admin's files
                        walk(parameter['schema'], f'{path} {parameter["name"]}')
                continue
            for parameter in op.get('parameters', []):
                walk(parameter['schema'], f'{method} {path} {parameter["name"]}')
            for content in (op.get('requestBody') or {}).get('content', {}).values():
                walk(content['schema'], f'{method} {path}')


def _job(**changes) -> dict:
    return {'app': 'iris', 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': str(uuid.uuid4()),
            'val_dataset_id': str(uuid.uuid4()), **changes}
