"""Users: create, list, ban, and who am I."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody
from singa.admin.routes.guards import ADMINS, current_user, require_user
from singa.admin.routes.serialize import user_json
from singa.admin.services import users
from singa.constants import UserType

bp = Blueprint('users', __name__)

CREATE_USER = JsonBody(Field('email', str, max_length=254), Field('password', str, max_length=1024),
                       Field('user_type', UserType))
BAN_USER = JsonBody(Field('email', str, max_length=254))


@bp.post('/users')
@operation('Create a user', body=CREATE_USER, response='User', errors=(409,),
           description='Only a SUPERADMIN may create ADMINs; nobody creates a SUPERADMIN. '
                       'The password needs at least 8 characters.')
@require_user(*ADMINS)
def create_user():
    fields = CREATE_USER.parse()
    user = users.create_user(admin_context().meta_store, current_user(), fields['email'], fields['password'],
                             fields['user_type'])
    return jsonify(user_json(user))


@bp.get('/users')
@operation('List every user', response='User', many=True)
@require_user(*ADMINS)
def list_users():
    return jsonify([user_json(u) for u in users.list_users(admin_context().meta_store)])


@bp.delete('/users')
@operation('Ban a user; their tokens stop working at once', body=BAN_USER, response='User', errors=(404,),
           description='Only a SUPERADMIN may ban ADMINs; nobody bans a SUPERADMIN or themselves.')
@require_user(*ADMINS)
def ban_user():
    fields = BAN_USER.parse()
    return jsonify(user_json(users.ban_user(admin_context().meta_store, current_user(), fields['email'])))


@bp.get('/users/me')
@operation('The logged-in user', response='User')
@require_user()
def get_current_user():
    return jsonify(user_json(current_user()))
