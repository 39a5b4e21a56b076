"""Platform-wide actions for the superadmin."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.guards import current_user, require_user
from singa.constants import UserType

bp = Blueprint('actions', __name__)


@bp.post('/actions/stop_all_jobs')
@operation('Stop every live job of every user', response='StoppedJobs')
@require_user(UserType.SUPERADMIN)
def stop_all_jobs():
    ctx = admin_context()
    train = ctx.train_jobs.stop_all_train_jobs(current_user())
    inference = ctx.inference_jobs.stop_all(current_user())
    return jsonify({'train_jobs': [{'id': str(i)} for i in train],
                    'inference_jobs': [{'id': str(i)} for i in inference]})
