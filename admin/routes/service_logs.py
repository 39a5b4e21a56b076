"""The logs of a job's services (advisors, train workers, predictors, inference workers), kept on
the shared storage and readable after the services are gone."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import APP, LOG_NAME, OWNER, OWNER_QUERY, VERSION, Field, Query
from singa.admin.routes.guards import current_user, require_user
from singa.admin.routes.serialize import service_log_json, service_log_text_json
from singa.admin.services.service_logs import DEFAULT_LOG_CHUNK, MAX_LOG_CHUNK, MAX_LOG_OFFSET

bp = Blueprint('service_logs', __name__)

READ_LOG = Query(
    OWNER,
    Field('offset', int, required=False, minimum=0, maximum=MAX_LOG_OFFSET,
          description='Byte to start at (default: the last "limit" bytes of the file)'),
    Field('limit', int, required=False, default=DEFAULT_LOG_CHUNK, minimum=1, maximum=MAX_LOG_CHUNK,
          description='Most bytes to answer'))
_LIST_TEXT = 'Each service\'s log file per replica (also after the services are gone)'
_READ_TEXT = 'Part of a log file; 404 for a name the job\'s list does not have'


@bp.get(f'/train_jobs/{APP}/{VERSION}/logs')
@operation('The logs of a train job\'s advisors and train workers', query=OWNER_QUERY, response='ServiceLog',
           many=True, errors=(404,), description=_LIST_TEXT)
@require_user()
def list_train_job_logs(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    found = admin_context().service_logs.train_job_logs(current_user(), app, app_version, f['user_id'])
    return jsonify([service_log_json(log) for log in found])


@bp.get(f'/train_jobs/{APP}/{VERSION}/logs/{LOG_NAME}')
@operation('Read a log of a train job\'s service', query=READ_LOG, response='ServiceLogText', errors=(404,),
           description=_READ_TEXT)
@require_user()
def read_train_job_log(app: str, app_version: int, name: str):
    f = READ_LOG.parse()
    chunk = admin_context().service_logs.train_job_log(current_user(), app, app_version, name, f['offset'],
                                                        f['limit'], f['user_id'])
    return jsonify(service_log_text_json(chunk))


@bp.get(f'/inference_jobs/{APP}/{VERSION}/logs')
@operation('The logs of an inference job\'s predictor and inference workers', query=OWNER_QUERY,
           response='ServiceLog', many=True, errors=(404,), description=_LIST_TEXT)
@require_user()
def list_inference_job_logs(app: str, app_version: int):
    f = OWNER_QUERY.parse()
    found = admin_context().service_logs.inference_job_logs(current_user(), app, app_version, f['user_id'])
    return jsonify([service_log_json(log) for log in found])


@bp.get(f'/inference_jobs/{APP}/{VERSION}/logs/{LOG_NAME}')
@operation('Read a log of an inference job\'s service', query=READ_LOG, response='ServiceLogText', errors=(404,),
           description=_READ_TEXT)
@require_user()
def read_inference_job_log(app: str, app_version: int, name: str):
    f = READ_LOG.parse()
    chunk = admin_context().service_logs.inference_job_log(current_user(), app, app_version, name, f['offset'],
                                                            f['limit'], f['user_id'])
    return jsonify(service_log_text_json(chunk))
