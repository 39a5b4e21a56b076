"""Quotas: what a user may run and store at once (admins set them; everyone reads their own)."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody, path_uuid
from singa.admin.routes.guards import ADMINS, current_user, require_user
from singa.admin.routes.serialize import quota_json
from singa.admin.services import quotas
from singa.admin.services.quotas import LIMIT_TEXT, UNLIMITED

bp = Blueprint('quotas', __name__)

_MAXIMA = {'running_jobs': 10 ** 6, 'workers': 10 ** 6, 'gpus': 10 ** 6, 'stored_bytes': 2 ** 62}
SET_QUOTA = JsonBody(*(Field(name, int, required=False, minimum=UNLIMITED, maximum=_MAXIMA[name],
                             description=f'Most {LIMIT_TEXT[name]} (-1: no limit; left out: the platform default)')
                       for name in quotas.LIMITS))
RULES = 'Admins set other users\' quotas; only a SUPERADMIN sets an ADMIN\'s; a SUPERADMIN has no quota.'


@bp.get('/users/<user_id>/quota')
@operation('A user\'s quota and what they use now (your own, or anyone\'s for admins)', response='Quota',
           errors=(404,))
@require_user()
def get_quota(user_id: str):
    ctx = admin_context()
    return jsonify(quota_json(quotas.get_quota(ctx.meta_store, ctx.settings, current_user(),
                                               path_uuid(user_id, 'user'))))


@bp.put('/users/<user_id>/quota')
@operation('Set a user\'s quota: the limits given replace the defaults, those left out go back to them',
           body=SET_QUOTA, response='Quota', errors=(404,),
           description=RULES + ' A request over a limit is answered 403 (QuotaExceededError) naming the limit, '
                               'what it allows, what is in use and what was asked.')
@require_user(*ADMINS)
def set_quota(user_id: str):
    f = SET_QUOTA.parse()
    ctx = admin_context()
    return jsonify(quota_json(quotas.set_quota(ctx.meta_store, ctx.settings, current_user(),
                                               path_uuid(user_id, 'user'), f)))
