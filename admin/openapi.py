"""The OpenAPI 3.1 document of the admin, served at ``/openapi.json``.

Each view carries its own operation (``@operation(...)``, next to the route), built from the same
``JsonBody`` / ``FormBody`` / ``Query`` declarations the view parses with and the roles of its
``require_user``; ``build_document`` walks the app's URL map and assembles them with the shared
components below. A route without ``@operation`` is left out, which the test comparing the
document with the URL map catches.
"""
import re

from flask import Flask
from werkzeug.routing import IntegerConverter

from singa.admin.services.idempotency import KEEP_SECONDS, KEEP_SECRET_SECONDS
from singa.admin.services.text import MAX_JSON_DEPTH, text_pattern
from singa.constants import (EventKind, InferenceJobStatus, ModelAccessRight, Task, TrainJobStatus, TrialStatus,
                             UserType)
from singa.objectives import Direction

OPENAPI_VERSION = '3.1.0'
_ERROR_TEXT = {400: 'Invalid request (missing, malformed, wrong type or unknown field)',
               401: 'Not logged in, or the token is malformed, forged, expired or revoked',
               403: 'The caller\'s role may not do this, or a quota would be exceeded (QuotaExceededError)',
               404: 'No such object, or not visible to the caller',
               405: 'Method not allowed', 409: 'Conflicts with the current state, or a request with the same '
                                                  'Idempotency-Key is still being processed (retry after Retry-After)',
               413: 'Upload over the size limit',
               422: 'The Idempotency-Key was used for a different request (method, path or body)',
               429: 'Too many failed logins for the account or from the address; retry after Retry-After',
               500: 'Internal error (details only in the server log)',
               503: 'A dependency (PostgreSQL, Redis) is unavailable'}
_RETRY_AFTER = {'Retry-After': {'description': 'Seconds to wait before trying again',
                                'schema': {'type': 'integer', 'minimum': 1}}}
IDEMPOTENCY_KEY = {
    'name': 'Idempotency-Key', 'in': 'header', 'required': False,
    'schema': {'type': 'string', 'minLength': 1, 'maxLength': 255, 'pattern': '^[!-~]+$'},
    'description': 'Makes a retry safe: a fresh value (a UUID) per request, the same on its retries. The same '
                   f'user sending the same key and request again within {KEEP_SECONDS // 3600} hours (a new '
                   f'prediction key: {KEEP_SECRET_SECONDS // 60} minutes) gets the first answer again (with '
                   '"Idempotent-Replayed: true") instead of a second run; the same key with another request is '
                   'a 422. Answers of server failures (5xx) are not kept.'}

_TIME = {'type': 'string', 'format': 'date-time'}
_NULLABLE_TIME = {'type': ['string', 'null'], 'format': 'date-time'}
_UUID = {'type': 'string', 'format': 'uuid'}
_NULLABLE_UUID = {'type': ['string', 'null'], 'format': 'uuid'}
_NULLABLE_STRING = {'type': ['string', 'null']}
_NULLABLE_NUMBER = {'type': ['number', 'null']}


def _enum(enum) -> dict:
    return {'type': 'string', 'enum': enum.values()}


def _record(optional: tuple = (), **properties) -> dict:
    """An object schema with exactly these properties, all required unless named in ``optional``."""
    return {'type': 'object', 'properties': properties, 'additionalProperties': False,
            'required': [name for name in properties if name not in optional]}


_STRING = {'type': 'string'}
_LIMITS = {'type': 'object', 'properties': {name: {'type': 'integer'} for name in
                                            ('running_jobs', 'workers', 'gpus', 'stored_bytes')}}
# Free-form JSON (train_args, a prediction query): any value whose strings, keys included, pass the
# text check. ``JsonValue`` is not null (a field sent as null is an absent one); inside it nulls are
# fine. A schema cannot count nesting, so the depth limit is said in the description.
JSON_VALUE_REF = {'$ref': '#/components/schemas/JsonValue'}
_NULLABLE_JSON_REF = {'$ref': '#/components/schemas/NullableJsonValue'}
FREE_OBJECT = {'type': 'object', 'propertyNames': {'pattern': text_pattern(multiline=True)},
               'additionalProperties': _NULLABLE_JSON_REF}
SCHEMAS = {
    'JsonValue': {
        'description': f'Any JSON value but null, nested at most {MAX_JSON_DEPTH} deep, with no control '
                       'characters in its strings (tab and line breaks allowed)',
        'anyOf': [{'type': ['number', 'boolean']}, {'type': 'string', 'pattern': text_pattern(multiline=True)},
                  {'type': 'array', 'items': _NULLABLE_JSON_REF}, FREE_OBJECT]},
    'NullableJsonValue': {'anyOf': [{'type': 'null'}, JSON_VALUE_REF]},
    'Error': _record(error=_record(
        optional=('resource', 'id', 'field', 'details'),
        type={'type': 'string', 'description': 'The SingaError class name'}, message=_STRING,
        resource=_STRING, id=_STRING, field=_STRING, details={'type': 'object'})),
    'Health': _record(optional=('dependencies',), service=_STRING, status=_STRING,
                      dependencies=_record(postgres=_STRING, redis=_STRING)),
    'Token': _record(user_id=_UUID, user_type=_enum(UserType), token=_STRING, expires_at=_TIME),
    'LoggedOut': _record(user_id=_UUID, everywhere={'type': 'boolean',
                                                    'description': 'Every token of the user, not just this one'}),
    'User': _record(id=_UUID, email=_STRING, user_type=_enum(UserType), created_at=_TIME, banned_at=_NULLABLE_TIME),
    'Dataset': _record(
        id=_UUID, name=_STRING, task=_enum(Task), size_bytes={'type': 'integer'},
        stat={'type': 'object', 'description': 'Rows or images, columns, classes and their counts'},
        owner_id=_UUID, created_at=_TIME),
    'Model': _record(
        id=_UUID, name=_STRING, task=_enum(Task), model_class=_STRING, access_right=_enum(ModelAccessRight),
        dependencies={'type': 'array', 'items': _STRING}, docker_image={'type': ['string', 'null']},
        model_description=_STRING,
        knob_config={'type': 'object', 'description': 'The knob space as the knob codec writes it'},
        has_checkpoint={'type': 'boolean', 'description': 'Uploaded with trained parameters: deployable with no '
                                                          'train job (POST /inference_jobs/checkpoint)'},
        checkpoint_bytes={'type': 'integer'}, owner_id=_UUID, created_at=_TIME,
        dependencies_env={'type': ['string', 'null'],
                          'description': 'The environment its dependencies were installed in, shared by every '
                                         'template with the same (<storage>/envs/<key>); null when the platform '
                                         'ships them all'},
        score_counts_examples={'type': 'boolean',
                               'description': 'Its evaluate() scores the share of validation examples right '
                                              '(accuracy), as its class declares (score_counts_examples, default '
                                              'true): its jobs tie trials within one example of the best score'}),
    'Deleted': _record(id=_UUID, deleted={'type': 'boolean'}),
    'TrainJob': _record(
        id=_UUID, app=_STRING, app_version={'type': 'integer'}, task=_enum(Task), status=_enum(TrainJobStatus),
        error=_NULLABLE_STRING, budget={'type': 'object'}, train_dataset_id=_NULLABLE_UUID,
        val_dataset_id=_NULLABLE_UUID, train_args={'type': 'object'},
        advisor_config={'type': 'object', 'description': 'advisor, pruner, max_trial_retries, seed, allow_repeats, '
                                                         'warm_start_from ({train_job_id, app, app_version}), '
                                                         'objectives, constraints'},
        owner_id=_UUID, created_at=_TIME, started_at=_NULLABLE_TIME, deadline_at=_NULLABLE_TIME,
        stopped_at=_NULLABLE_TIME,
        resumed_at={**_NULLABLE_TIME, 'description': 'When its current run began, if it was resumed'},
        trials_completed={'type': 'integer'}, trials_total={'type': 'integer'},
        best_score=_NULLABLE_NUMBER,
        sub_train_jobs={'type': 'array', 'items': _record(
            id=_UUID, model_id=_UUID, model_name=_STRING, status=_enum(TrainJobStatus), error=_NULLABLE_STRING,
            trials={'type': 'object', 'description': 'Trial counts by status'}, best_score=_NULLABLE_NUMBER)}),
    'Trial': _record(
        id=_UUID, no={'type': 'integer'}, train_job_id=_UUID, sub_train_job_id=_UUID, model_id=_UUID,
        model_name=_STRING, status=_enum(TrialStatus), knobs={'type': 'object'}, score=_NULLABLE_NUMBER,
        intermediate={'type': 'array', 'description': '[[step, score], ...] as reported'},
        phase=_NULLABLE_STRING, worker_id=_NULLABLE_STRING, attempt={'type': 'integer'}, retry_of=_NULLABLE_UUID,
        is_params_saved={'type': 'boolean'}, error=_NULLABLE_STRING, started_at=_NULLABLE_TIME,
        stopped_at=_NULLABLE_TIME, duration_seconds=_NULLABLE_NUMBER,
        params_bytes={'type': ['integer', 'null'], 'description': 'Size of the saved parameters, as stored'},
        metrics={'type': ['object', 'null'], 'additionalProperties': {'type': 'number'},
                 'description': 'A completed trial\'s named metrics: those evaluate() returned, and predict_latency_ms, '
                                'the median time its trained model took to answer one validation query'},
        values={'type': 'object', 'additionalProperties': {'type': 'number'},
                'description': 'In a Pareto front: every figure of the trial by name (score, its metrics, '
                               'params_bytes)'},
        feasible={'type': 'boolean', 'description': 'In a Pareto front: whether it meets the job\'s constraints'},
        rank_rule={'type': 'string', 'description': 'With type=best: the rule that ranked the trials, with the '
                                                    "job's tie tolerance (one validation example for an accuracy) "
                                                    'and constraints'},
        tied_with_best={'type': 'boolean', 'description': 'With type=best: whether its score ties with the '
                                                          'best one, so that the rule\'s tie-break placed it'},
        optional=('rank_rule', 'tied_with_best', 'values', 'feasible')),
    'ParetoFront': _record(
        objectives={'type': 'array', 'items': _record(name=_STRING, direction=_enum(Direction))},
        constraints={'type': 'array', 'items': _record(optional=('min', 'max'), name=_STRING,
                                                       min={'type': 'number'}, max={'type': 'number'})},
        trials={'type': 'array', 'items': {'$ref': '#/components/schemas/Trial'},
                'description': 'The non-dominated trials that meet the constraints, best score first'},
        others={'type': 'array', 'items': {'$ref': '#/components/schemas/Trial'},
                'description': 'With others=true: the other completed trials, best score first'},
        optional=('others',)),
    'EnqueuedTrial': _record(
        id=_UUID, train_job_id=_UUID, sub_train_job_id=_UUID, model_name=_STRING,
        knobs={'type': 'object', 'description': 'Every knob\'s value as the trial will get it (policy knobs aside)'},
        created_at=_TIME, trial_id={**_NULLABLE_UUID, 'description': 'The trial it became; null while it waits'}),
    'TrialLogs': _record(
        plots={'type': 'array', 'items': {'type': 'object'}}, metrics={'type': 'array', 'items': {'type': 'object'}},
        messages={'type': 'array', 'items': {'type': 'object'}}, last_id={'type': 'integer'}),
    'ServiceLog': _record(
        name={'type': 'string', 'description': '<service>-<replica>.log'}, service_id=_UUID,
        service_type={'type': 'string', 'enum': ['ADVISOR', 'TRAIN', 'PREDICT', 'INFERENCE']},
        replica={'type': 'integer'}, model_name={'type': 'string', 'description': 'The template a worker ran'},
        size={'type': 'integer'}, modified_at=_TIME),
    'ServiceLogText': _record(
        name=_STRING, size={'type': 'integer', 'description': 'Of the whole file now'},
        offset={'type': 'integer', 'description': 'Where text starts'}, text=_STRING,
        next_offset={'type': 'integer', 'description': 'Pass as offset to read on from there'}),
    'KnobImportance': _record(
        sub_train_job_id=_UUID, model_id=_UUID, model_name=_STRING,
        method={'type': 'string', 'description': 'How the importances were computed (fANOVA)'},
        trials_used={'type': 'integer', 'description': 'Completed trials with a score that were used'},
        importances={'type': 'object', 'additionalProperties': {'type': 'number'},
                     'description': 'Share of the score\'s variance each knob explains (they sum to 1), largest first'},
        not_assessed={'type': 'array', 'items': _STRING,
                      'description': 'Searched knobs left out: inactive in some trials, or never varied'},
        note=_NULLABLE_STRING),
    'InferenceJob': _record(
        id=_UUID, app=_STRING, app_version={'type': 'integer'},
        train_job_id={**_NULLABLE_UUID, 'description': 'The train job whose trials it serves; null for a checkpoint job'},
        model_id={**_NULLABLE_UUID, 'description': 'A checkpoint job\'s template (its app is the template\'s name)'},
        status=_enum(InferenceJobStatus), error=_NULLABLE_STRING,
        predictor_url={'type': ['string', 'null'],
                       'description': 'Where application users POST /predict (or, as SingaAuto\'s users did, POST /)'},
        is_public={'type': 'boolean'}, description=_STRING, budget={'type': 'object'},
        config={'type': 'object', 'description': 'models_per_template, max_models, replicas, ensemble, and select '
                                                 '(the rule that picked the trial) if one was given'},
        owner_id=_UUID, created_at=_TIME, started_at=_NULLABLE_TIME, stopped_at=_NULLABLE_TIME,
        workers={'type': 'array', 'items': _record(
            trial_id=_NULLABLE_UUID, model_id={**_NULLABLE_UUID, 'description': 'A checkpoint job\'s template'},
            model_name=_STRING, score=_NULLABLE_NUMBER, replicas={'type': 'integer'}, status=_STRING,
            metrics={'type': ['object', 'null'], 'additionalProperties': {'type': 'number'},
                     'description': 'What was measured of the trial it serves (score, metrics, params_bytes)'})}),
    'PredictionKey': _record(id=_UUID, name=_STRING, created_at=_TIME, revoked_at=_NULLABLE_TIME),
    'NewPredictionKey': _record(id=_UUID, name=_STRING, created_at=_TIME, revoked_at=_NULLABLE_TIME,
                                key={'type': 'string', 'description': 'Shown only now'}),
    'Prediction': {'type': 'object', 'description': 'The predictor\'s answer: {"prediction"} or {"predictions"}, '
                                                    '"models" (which answered), and with details "model_predictions"'},
    'StoppedJobs': _record(train_jobs={'type': 'array', 'items': _record(id=_UUID)},
                           inference_jobs={'type': 'array', 'items': _record(id=_UUID)}),
    'OpenAPI': {'type': 'object', 'description': 'This document'},
    'Event': _record(
        id={'type': 'integer'}, kind=_enum(EventKind), time=_TIME,
        owner_id={**_NULLABLE_UUID, 'description': 'Whose event it is: the owner of what it is about'},
        actor_id={**_NULLABLE_UUID, 'description': 'Who caused it; null: the platform itself'},
        job_id=_NULLABLE_UUID, subject_id=_NULLABLE_UUID,
        data={'type': 'object', 'description': 'What happened, by kind (scores, statuses, errors, names)'}),
    'Webhook': _record(id=_UUID, url=_STRING, kinds={'type': 'array', 'items': _enum(EventKind),
                                                     'description': 'Empty: every kind'},
                       description=_STRING, owner_id=_UUID, created_at=_TIME),
    'NewWebhook': _record(id=_UUID, url=_STRING, kinds={'type': 'array', 'items': _enum(EventKind)},
                          description=_STRING, owner_id=_UUID, created_at=_TIME,
                          secret={'type': 'string', 'description': 'Signs every delivery; shown only now'}),
    'WebhookDelivery': _record(
        id={**_UUID, 'description': 'Sent as Singa-Delivery on every attempt'}, event_id={'type': 'integer'},
        event_kind=_enum(EventKind), status={'type': 'string', 'enum': ['PENDING', 'DELIVERED', 'FAILED']},
        attempts={'type': 'integer'}, next_attempt_at=_NULLABLE_TIME, last_error=_NULLABLE_STRING,
        created_at=_TIME, finished_at=_NULLABLE_TIME,
        log={'type': 'array', 'items': _record(
            attempt={'type': 'integer'}, time=_TIME, status_code={'type': ['integer', 'null']},
            error=_NULLABLE_STRING, duration_ms={'type': 'number'})}),
    'Quota': _record(
        user_id=_UUID,
        limits={**_LIMITS, 'description': 'The limits in force (-1: none)'},
        custom={'type': 'object', 'additionalProperties': {'type': ['integer', 'null']},
                'description': 'What an admin set (null: the platform default)'},
        usage={**_LIMITS, 'description': 'What is in use now'}, updated_at=_NULLABLE_TIME, updated_by=_NULLABLE_UUID),
    'ScrapeTargets': {'type': 'array', 'items': _record(targets={'type': 'array', 'items': _STRING},
                                                        labels={'type': 'object'})},
}


def operation(summary: str, *, response: str = None, many: bool = False, body=None, query=None,
              errors: tuple = (), binary: bool = False, media: str = None, description: str = ''):
    """Attach an OpenAPI operation to a view (put it between ``@bp.<method>`` and ``@require_user``).

    ``response`` names a schema in ``SCHEMAS`` (an array of it when ``many``); ``binary`` means the
    200 response is ``application/octet-stream``, ``media`` that it is a document of that media
    type (the web admin's pages and assets); ``errors`` lists the statuses the view may answer
    besides those implied by authentication and input parsing. A view marked ``@idempotent`` takes
    the ``Idempotency-Key`` header (and may answer 409 and 422 for it).
    """
    def decorate(view):
        roles = getattr(view, 'singa_roles', None)
        statuses = set(errors) | {500}
        if roles is not None:
            statuses |= {401, 403}
        if body is not None or query is not None:
            statuses.add(400)
        idempotent = getattr(view, 'singa_idempotent', False)
        if idempotent:
            statuses |= {400, 409, 422}
        if body is not None:
            statuses.add(413)
        op = {'summary': summary, 'operationId': view.__name__, 'responses': {}}
        text = description
        if roles is not None:
            allowed = sorted({str(r) for r in roles} | {UserType.SUPERADMIN.value})
            text = (text + '\n\n' if text else '') + 'Roles: ' + ', '.join(allowed) + '.'
            op['security'] = [{'bearerAuth': []}]
        else:
            op['security'] = []
        if text:
            op['description'] = text
        parameters = (query.parameters() if query is not None else []) + ([IDEMPOTENCY_KEY] if idempotent else [])
        if parameters:
            op['parameters'] = parameters
        if body is not None:
            op['requestBody'] = {'required': True,
                                 'content': {body.content_type: {'schema': body.schema()}}}
        if binary or media:
            ok = {'description': 'The file', 'content': {media or 'application/octet-stream': {
                'schema': {'type': 'string', 'format': 'binary'}}}}
        else:
            ref = {'$ref': f'#/components/schemas/{response}'}
            ok = {'description': 'Success', 'content': {'application/json': {
                'schema': {'type': 'array', 'items': ref} if many else ref}}}
        op['responses']['200'] = ok
        for status in sorted(statuses):
            op['responses'][str(status)] = {'$ref': f'#/components/responses/E{status}'}
        view.openapi = op
        return view
    return decorate


def _path_schema(rule, name: str) -> dict:
    """A path parameter's schema, from its converter: its range or its pattern (a segment that does
    not match is no such endpoint, a 404); ids are UUIDs (a malformed one is a 404 as well)."""
    converter = rule._converters.get(name)
    if hasattr(converter, 'openapi_schema'):
        return dict(converter.openapi_schema)
    if isinstance(converter, IntegerConverter):
        schema = {'type': 'integer'}
        for key, bound in (('minimum', converter.min), ('maximum', converter.max)):
            if bound is not None:
                schema[key] = bound
        return schema
    return _UUID if name.endswith('_id') else {'type': 'string'}


def _error_response(status: int, text: str) -> dict:
    response = {'description': text, 'content': {'application/json': {
        'schema': {'$ref': '#/components/schemas/Error'}}}}
    if status in (409, 429):
        response['headers'] = _RETRY_AFTER
    return response


def build_document(app: Flask) -> dict:
    paths: dict = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        op = getattr(app.view_functions.get(rule.endpoint), 'openapi', None)
        if op is None:
            continue
        path = re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule.rule)
        item = paths.setdefault(path, {})
        params = [{'name': name, 'in': 'path', 'required': True, 'schema': _path_schema(rule, name)}
                  for name in sorted(rule.arguments)]
        if params:
            item['parameters'] = params
        methods = sorted(rule.methods - {'HEAD', 'OPTIONS'})
        for method in methods:
            # operationIds must be unique: a view serving several methods gets one per method.
            op_id = op['operationId'] if len(methods) == 1 else f'{op["operationId"]}_{method.lower()}'
            item[method.lower()] = dict(op, operationId=op_id)
    return {
        'openapi': OPENAPI_VERSION,
        'info': {'title': 'SingaAuto admin API', 'version': '1',
                 'description': 'Every error is answered with the envelope {"error": {...}} and its HTTP '
                                'status; ids are UUIDs; a malformed id in a path is a 404.'},
        'paths': paths,
        'components': {
            'schemas': SCHEMAS,
            'responses': {f'E{status}': _error_response(status, text) for status, text in _ERROR_TEXT.items()},
            'securitySchemes': {'bearerAuth': {'type': 'http', 'scheme': 'bearer',
                                               'description': 'The token from POST /tokens'}},
        },
    }
