"""Users: create, list, ban and unban, passwords, and who am I."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody
from singa.admin.routes.guards import ADMINS, current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import user_json
from singa.admin.routes.tokens import client_address
from singa.admin.services import users
from singa.admin.services.passwords import MAX_LENGTH as MAX_PASSWORD, MIN_LENGTH as MIN_PASSWORD, RULES as POLICY
from singa.admin.services.text import NOT_BLANK_PATTERN
from singa.admin.services.users import EMAIL, MAX_EMAIL_LENGTH
from singa.constants import UserType

bp = Blueprint('users', __name__)

EMAIL_FIELD = Field('email', str, max_length=MAX_EMAIL_LENGTH)
CREATE_USER = JsonBody(
    Field('email', str, max_length=MAX_EMAIL_LENGTH, pattern=EMAIL.pattern, hint='an email address',
          description='Stored lower-cased'),
    Field('password', str, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, pattern=NOT_BLANK_PATTERN,
          hint='not only white space'),
    Field('user_type', UserType))
BY_EMAIL = JsonBody(EMAIL_FIELD)
CHANGE_PASSWORD = JsonBody(Field('old_password', str, max_length=MAX_PASSWORD),
                           Field('new_password', str, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD,
                                 pattern=NOT_BLANK_PATTERN, hint='not only white space'))
RESET_PASSWORD = JsonBody(EMAIL_FIELD, Field('password', str, min_length=MIN_PASSWORD, max_length=MAX_PASSWORD,
                                             pattern=NOT_BLANK_PATTERN, hint='not only white space'))
MANAGE_RULES = 'Only a SUPERADMIN may do this to ADMINs; nobody does it to a SUPERADMIN or to themselves.'


@bp.post('/users')
@operation('Create a user', body=CREATE_USER, response='User', errors=(409,),
           description='Only a SUPERADMIN may create ADMINs; nobody creates a SUPERADMIN. ' + POLICY)
@require_user(*ADMINS)
@idempotent
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
@operation('Ban a user; their tokens stop working at once and their inference jobs stop answering', body=BY_EMAIL,
           response='User', errors=(404,),
           description='Their private inference jobs refuse every prediction key; their public ones are stopped. '
                       + MANAGE_RULES)
@require_user(*ADMINS)
def ban_user():
    fields = BY_EMAIL.parse()
    ctx = admin_context()
    return jsonify(user_json(users.ban_user(ctx.meta_store, current_user(), fields['email'], ctx.inference_jobs)))


@bp.post('/users/unban')
@operation('Lift a ban: the user may log in again and their live inference jobs take their keys again',
           body=BY_EMAIL, response='User', errors=(404,),
           description='Tokens the ban revoked stay revoked; public jobs the ban stopped stay stopped. ' + MANAGE_RULES)
@require_user(*ADMINS)
def unban_user():
    fields = BY_EMAIL.parse()
    ctx = admin_context()
    return jsonify(user_json(users.unban_user(ctx.meta_store, current_user(), fields['email'], ctx.inference_jobs)))


@bp.post('/users/password')
@operation("Set another user's password; their tokens stop working and their failed logins are forgotten",
           body=RESET_PASSWORD, response='User', errors=(404,), description=MANAGE_RULES + ' ' + POLICY)
@require_user(*ADMINS)
@idempotent
def reset_password():
    fields = RESET_PASSWORD.parse()
    ctx = admin_context()
    return jsonify(user_json(users.reset_password(ctx.meta_store, ctx.login_throttle, current_user(),
                                                  fields['email'], fields['password'])))


@bp.get('/users/me')
@operation('The logged-in user', response='User')
@require_user()
def get_current_user():
    return jsonify(user_json(current_user()))


@bp.post('/users/me/password')
@operation('Change your password (give the old one); your tokens keep working', body=CHANGE_PASSWORD,
           response='User', errors=(429,),
           description='403 for a wrong old password, which counts as a failed login (429 with Retry-After '
                       'once the account is locked). DELETE /tokens ends your other sessions. ' + POLICY)
@require_user()
@idempotent
def change_password():
    fields = CHANGE_PASSWORD.parse()
    ctx = admin_context()
    return jsonify(user_json(users.change_password(ctx.meta_store, ctx.login_throttle, current_user(),
                                                   fields['old_password'], fields['new_password'],
                                                   client_address())))
