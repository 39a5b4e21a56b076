"""Inference jobs: deploy the best trials (or a template's checkpoint) behind a predictor, read, stop;
prediction keys; the playground."""

from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import APP, MAX_APP_VERSION, OWNER_QUERY, VERSION, Field, JsonBody, path_uuid
from singa.admin.routes.guards import current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import inference_job_json, prediction_key_json
from singa.admin.services.idempotency import KEEP_SECRET_SECONDS
from singa.admin.services.datasets import MAX_NAME_LENGTH, NAME_HINT, NAME_PATTERN
from singa.admin.services.inference_jobs import (DESCRIPTION_LENGTH, KEY_NAME_LENGTH, MAX_BATCH_SIZE, MAX_MODELS,
                                                 MAX_REPLICAS, MAX_WAIT_MS, NewCheckpointJob, NewInferenceJob)
from singa.admin.services.train_jobs import APP_NAME, APP_NAME_HINT, MAX_GPU_COUNT
from singa.constants import MAX_PREDICT_QUERIES, BudgetKey, EnsembleMethod
from singa.admin.routes.train_jobs import CONSTRAINT, MAX_CONSTRAINTS, METRIC
from singa.objectives import Direction, SelectRule

bp = Blueprint('inference_jobs', __name__)

BUDGET = Field('budget', dict, required=False, description='What the job may spend', fields=(
    Field(BudgetKey.GPU_COUNT.value, int, required=False, minimum=0, maximum=MAX_GPU_COUNT,
          description='GPUs split across the deployed trials (Swarm only; 409 where workers are local '
                      'processes)'),))
REPLICAS = Field('replicas', int, required=False, default=1, minimum=1, maximum=MAX_REPLICAS,
                 description='Inference workers per deployed trial')
SERVING = (
    Field('is_public', bool, required=False, default=False,
          description='Anyone may query the predictor without a prediction key'),
    Field('description', str, required=False, default='', max_length=DESCRIPTION_LENGTH, multiline=True),
    Field('max_batch_size', int, required=False, minimum=1, maximum=MAX_BATCH_SIZE,
          description='Most queries the predictor sends to the models at once (1: no batching)'),
    Field('max_wait_ms', float, required=False, minimum=0, maximum=MAX_WAIT_MS,
          description='Longest a query may wait for others to fill its batch when requests are arriving'))
CREATE_INFERENCE_JOB = JsonBody(
    Field('app', str, max_length=64, pattern=APP_NAME.pattern, hint=APP_NAME_HINT),
    Field('app_version', int, required=False, default=-1, minimum=-1, maximum=MAX_APP_VERSION,
          description='The train job\'s version (-1: the latest)'),
    BUDGET,
    Field('models_per_template', int, required=False, default=1, minimum=1, maximum=MAX_MODELS,
          description='How many of the best trials of each template to deploy'),
    Field('max_models', int, required=False, minimum=1, maximum=MAX_MODELS, description='At most this many trials in all'),
    REPLICAS,
    Field('ensemble', EnsembleMethod, required=False, default=EnsembleMethod.AUTO),
    Field('select', dict, required=False, fields=(
        Field('objective', str, max_length=64, pattern=METRIC.pattern, hint=METRIC.hint, description=METRIC.description),
        Field('direction', Direction, required=False, default=Direction.MAXIMIZE),
        Field('where', list, required=False, items=CONSTRAINT, max_items=MAX_CONSTRAINTS)),
          description='Deploy the one trial a rule picks instead: the best by objective among the completed trials '
                      'that meet every bound of where, e.g. the most accurate answering in under 5 ms at p50: '
                      '{"objective": "accuracy", "where": [{"name": "predict_latency_ms", "max": 5}]}; 409 naming '
                      'the bounds when no trial meets them. The workers\' metrics say what was measured of it'),
    *SERVING)
CREATE_CHECKPOINT_JOB = JsonBody(
    Field('model_name', str, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, hint=NAME_HINT,
          description='Your template that was uploaded with a checkpoint; the job\'s app is its name, version 1'),
    Field('knobs', dict, required=False, description='The value of each knob the template does not fix (those of '
                                                     'the trial that trained the checkpoint); default: none'),
    BUDGET, REPLICAS, *SERVING)
CREATE_KEY = JsonBody(Field('name', str, required=False, default='', max_length=KEY_NAME_LENGTH))
PREDICT = JsonBody(
    Field('query', object, required=False, description='One query, in the task\'s query format'),
    Field('queries', list, required=False, items=Field('query', object), min_items=1, max_items=MAX_PREDICT_QUERIES,
          description='Several queries'),
    Field('details', bool, required=False, default=False, description='Add each model\'s answers'),
    one_of=('query', 'queries'))


def _service():
    return admin_context().inference_jobs


@bp.post('/inference_jobs')
@operation('Deploy the best trials of a finished train job behind one predictor', body=CREATE_INFERENCE_JOB,
           response='InferenceJob', errors=(404, 409, 503),
           description='409 while the train job already has a live inference job, has not stopped, or has no '
                       'trial with saved parameters (none that meets select\'s bounds); 503 when the services cannot '
                       'start.')
@require_user()
@idempotent
def create_inference_job():
    f = CREATE_INFERENCE_JOB.parse()
    new = NewInferenceJob(app=f['app'], app_version=f['app_version'], budget=f['budget'] or {},
                          models_per_template=f['models_per_template'], max_models=f['max_models'],
                          replicas=f['replicas'], ensemble=f['ensemble'], is_public=f['is_public'],
                          description=f['description'], max_batch_size=f['max_batch_size'],
                          max_wait_ms=f['max_wait_ms'], select=f['select'] and SelectRule.parse(f['select']))
    return jsonify(inference_job_json(_service().create_inference_job(current_user(), new)))


@bp.post('/inference_jobs/checkpoint')
@operation('Deploy a template with the trained parameters uploaded with it (its checkpoint), with no train job',
           body=CREATE_CHECKPOINT_JOB, response='InferenceJob', errors=(404, 409, 503),
           description='The job serves one model, the template with its checkpoint, through the same workers and '
                       'predictor as any inference job; its app is the template\'s name and its version 1. 400 '
                       '(InvalidKnobError) for knobs the template does not have or cannot take, or when a knob it '
                       'does not fix has no value; 404 when you have no template of that name; 409 when it was '
                       'uploaded without a checkpoint or already has a live checkpoint job; 503 when the services '
                       'cannot start.')
@require_user()
@idempotent
def create_checkpoint_inference_job():
    f = CREATE_CHECKPOINT_JOB.parse()
    new = NewCheckpointJob(model_name=f['model_name'], knobs=f['knobs'], budget=f['budget'] or {},
                           replicas=f['replicas'], is_public=f['is_public'], description=f['description'],
                           max_batch_size=f['max_batch_size'], max_wait_ms=f['max_wait_ms'])
    return jsonify(inference_job_json(_service().create_checkpoint_job(current_user(), new)))


@bp.get('/inference_jobs')
@operation('List your inference jobs (admins: any user\'s)', query=OWNER_QUERY, response='InferenceJob',
           many=True, errors=(404,))
@require_user()
def list_inference_jobs():
    f = OWNER_QUERY.parse()
    return jsonify([inference_job_json(v) for v in _service().list_inference_jobs(current_user(),
                                                                                  owner_id=f['user_id'])])


@bp.get(f'/inference_jobs/{APP}')
@operation('List the inference jobs of one of your apps', query=OWNER_QUERY, response='InferenceJob', many=True,
           errors=(404,))
@require_user()
def list_inference_jobs_of_app(app: str):
    f = OWNER_QUERY.parse()
    return jsonify([inference_job_json(v) for v in _service().list_inference_jobs(current_user(), app=app,
                                                                                  owner_id=f['user_id'])])


@bp.get(f'/inference_jobs/{APP}/{VERSION}')
@operation('The live inference job of an app version (else its latest), with the predictor\'s address',
           query=OWNER_QUERY, response='InferenceJob', errors=(404,))
@require_user()
def get_inference_job(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    return jsonify(inference_job_json(_service().get_inference_job(current_user(), app, app_version, f['user_id'])))


@bp.post(f'/inference_jobs/{APP}/{VERSION}/stop')
@operation('Stop an inference job: its predictor and workers are removed', query=OWNER_QUERY, response='InferenceJob',
           errors=(404,))
@require_user()
def stop_inference_job(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    return jsonify(inference_job_json(_service().stop_inference_job(current_user(), app, app_version, f['user_id'])))


@bp.post(f'/inference_jobs/{APP}/{VERSION}/keys')
@operation('Create a prediction key (the key is shown only in this answer)', body=CREATE_KEY,
           response='NewPredictionKey', errors=(404,))
@require_user()
@idempotent(keep_seconds=KEEP_SECRET_SECONDS)
def create_prediction_key(app: str, app_version: int):
    f = CREATE_KEY.parse()
    record, key = _service().create_key(current_user(), app, app_version, f['name'])
    return jsonify(dict(prediction_key_json(record), key=key))


@bp.get(f'/inference_jobs/{APP}/{VERSION}/keys')
@operation('List the prediction keys of an inference job (without the keys)', response='PredictionKey', many=True,
           errors=(404,))
@require_user()
def list_prediction_keys(app: str, app_version: int):
    return jsonify([prediction_key_json(k) for k in _service().list_keys(current_user(), app, app_version)])


@bp.delete(f'/inference_jobs/{APP}/{VERSION}/keys/<key_id>')
@operation('Revoke a prediction key', response='PredictionKey', errors=(404,))
@require_user()
def revoke_prediction_key(app: str, app_version: int, key_id: str):
    record = _service().revoke_key(current_user(), app, app_version, path_uuid(key_id, 'prediction_key'))
    return jsonify(prediction_key_json(record))


@bp.post(f'/inference_jobs/{APP}/{VERSION}/predict')
@operation('Query the predictor as the job\'s owner (the playground): same body and answer as the predictor\'s '
           'POST /predict', body=PREDICT, response='Prediction', errors=(404, 409, 503),
           description='409 while the inference job is not running; 400 also when no model could predict the '
                       'queries (the message says why).')
@require_user()
def predict(app: str, app_version: int):
    f = PREDICT.parse()
    body = {key: f[key] for key in ('query', 'queries') if f[key] is not None}
    answer, _ = _service().predict(current_user(), app, app_version, dict(body, details=f['details']))
    return jsonify(answer)
