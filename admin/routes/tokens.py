"""Logging in: ``POST /tokens``."""
from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody
from singa.admin.routes.serialize import iso
from singa.admin.services import users

bp = Blueprint('tokens', __name__)

LOGIN = JsonBody(Field('email', str, max_length=254), Field('password', str, max_length=1024))


@bp.post('/tokens')
@operation('Log in; returns a bearer token and its expiry', body=LOGIN, response='Token',
           errors=(401,), description='401 for a wrong email or password and for a banned user.')
def create_token():
    fields = LOGIN.parse()
    ctx = admin_context()
    login = users.login(ctx.meta_store, ctx.signer, fields['email'], fields['password'])
    return jsonify({'user_id': str(login.user.id), 'user_type': login.user.user_type, 'token': login.token,
                    'expires_at': iso(login.expires_at)})
