"""Logging in and out: ``POST /tokens``, ``DELETE /tokens/current``, ``DELETE /tokens``."""
from flask import Blueprint, jsonify, request

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, JsonBody
from singa.admin.routes.guards import current_token, current_user, require_user
from singa.admin.routes.serialize import iso
from singa.admin.services import users
from singa.admin.services.login_throttle import ACCOUNT, ADDRESS
from singa.admin.services.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from singa.admin.services.users import MAX_EMAIL_LENGTH

bp = Blueprint('tokens', __name__)

LOGIN = JsonBody(Field('email', str, max_length=MAX_EMAIL_LENGTH),
                 Field('password', str, max_length=MAX_PASSWORD_LENGTH))


def client_address() -> str:
    """The address failed logins are counted against: the TCP peer (a proxy in front shares one)."""
    return request.remote_addr or 'unknown'


@bp.post('/tokens')
@operation('Log in; returns a bearer token and its expiry', body=LOGIN, response='Token', errors=(401, 429),
           description=f'401 for a wrong email or password and for a banned user. After {ACCOUNT.free_failures} '
                       f'failed logins in a row for an account, or {ADDRESS.free_failures} from one address, '
                       f'each further failure locks the account (or address) for {ACCOUNT.first_lock_seconds:g} '
                       f's, doubling up to {ACCOUNT.max_lock_seconds:g} s: meanwhile every attempt is answered '
                       '429 with Retry-After. A successful login clears the account\'s count.')
def create_token():
    fields = LOGIN.parse()
    ctx = admin_context()
    login = users.login(ctx.meta_store, ctx.signer, ctx.login_throttle, fields['email'], fields['password'],
                        client_address())
    return jsonify({'user_id': str(login.user.id), 'user_type': login.user.user_type, 'token': login.token,
                    'expires_at': iso(login.expires_at)})


@bp.delete('/tokens/current')
@operation('Log out: the token sent with this request stops working', response='LoggedOut')
@require_user()
def revoke_current_token():
    users.logout(admin_context().meta_store, current_user(), current_token())
    return jsonify({'user_id': str(current_user().id), 'everywhere': False})


@bp.delete('/tokens')
@operation('Log out everywhere: every token issued to you so far stops working, this one too',
           response='LoggedOut')
@require_user()
def revoke_all_tokens():
    users.logout(admin_context().meta_store, current_user(), current_token(), everywhere=True)
    return jsonify({'user_id': str(current_user().id), 'everywhere': True})
