"""/openapi.json is a valid OpenAPI document that describes every route of the app."""
import re

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE

HTTP_METHODS = {'get', 'post', 'put', 'patch', 'delete'}


def test_the_document_is_valid_openapi(api):
    response = api.get('/openapi.json')
    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    assert document['openapi'].startswith('3.')


def test_every_route_is_documented_and_nothing_else(app, api):
    document = api.get('/openapi.json').get_json()
    documented = {(path, method.upper()) for path, item in document['paths'].items()
                  for method in item if method in HTTP_METHODS}
    routes = {(re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule.rule), method)
              for rule in app.url_map.iter_rules() for method in rule.methods - {'HEAD', 'OPTIONS'}}
    assert documented == routes


def test_operations_document_auth_errors_and_bodies(api):
    paths = api.get('/openapi.json').get_json()['paths']
    create_user = paths['/users']['post']
    assert create_user['security'] == [{'bearerAuth': []}]
    assert {'200', '400', '401', '403', '409', '500'} <= set(create_user['responses'])
    body = create_user['requestBody']['content']['application/json']['schema']
    assert body['required'] == ['email', 'password', 'user_type'] and body['additionalProperties'] is False
    upload = paths['/datasets']['post']['requestBody']['content']['multipart/form-data']['schema']
    assert upload['properties']['dataset']['format'] == 'binary' and upload['properties']['dataset_url']
    assert upload['oneOf'] == [{'required': ['dataset']}, {'required': ['dataset_url']}]
    assert paths['/tokens']['post']['security'] == []
    assert paths['/models/{model_id}']['parameters'][0]['name'] == 'model_id'
    assert 'application/octet-stream' in paths['/models/{model_id}/model_file']['get']['responses']['200']['content']


def test_answers_match_their_documented_schemas(api, app_dev, model_dev):
    schemas = api.get('/openapi.json').get_json()['components']['schemas']

    def check(schema_name, instance):
        OAS31Validator(schemas[schema_name]).validate(instance)

    check('Dataset', api.upload_dataset(app_dev, CLASSIFICATION_CSV).get_json())
    check('Model', api.upload_model(model_dev, GOOD_TEMPLATE).get_json())
    check('User', api.get('/users/me', app_dev).get_json())
    check('Token', api.post('/tokens', json={'email': app_dev.email, 'password': app_dev.password}).get_json())
    check('Health', api.get('/health').get_json())
    check('Error', api.get('/datasets/nope', app_dev).get_json())
    check('Error', api.post('/users', app_dev, json={}).get_json())
    check('LoggedOut', api.delete('/tokens/current', app_dev).get_json())


# Routes that change something and are safe to repeat as they are, so they take no Idempotency-Key.
REPEATABLE = {('/tokens', 'POST'), ('/tokens', 'DELETE'), ('/tokens/current', 'DELETE'), ('/users', 'DELETE'),
              ('/users/unban', 'POST'), ('/actions/stop_all_jobs', 'POST'),
              ('/train_jobs/{app}/{app_version}/stop', 'POST'), ('/inference_jobs/{app}/{app_version}/stop', 'POST'),
              ('/inference_jobs/{app}/{app_version}/predict', 'POST'),
              ('/inference_jobs/{app}/{app_version}/keys/{key_id}', 'DELETE'),
              # Replacing a quota and deleting a webhook leave the same state however often they are sent.
              ('/users/{user_id}/quota', 'PUT'), ('/webhooks/{webhook_id}', 'DELETE'),
              # Setting a live job's budget, likewise.
              ('/train_jobs/{app}/{app_version}', 'PATCH')}


def test_every_route_that_changes_something_is_safe_to_retry(api):
    paths = api.get('/openapi.json').get_json()['paths']
    keyed, plain = set(), set()
    for path, item in paths.items():
        for method, op in item.items():
            if method in HTTP_METHODS - {'get'}:
                names = {p['name'] for p in op.get('parameters', [])}
                (keyed if 'Idempotency-Key' in names else plain).add((path, method.upper()))
    assert plain == REPEATABLE
    assert {('/users', 'POST'), ('/datasets', 'POST'), ('/users/me/password', 'POST')} <= keyed
    for path, method in keyed:
        assert {'409', '422'} <= set(paths[path][method.lower()]['responses'])
    assert '429' in paths['/tokens']['post']['responses']
    assert 'Retry-After' in api.get('/openapi.json').get_json()['components']['responses']['E429']['headers']
