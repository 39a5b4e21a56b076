"""``require_user``: the route decorator that authenticates the caller and checks their role."""
import functools

from flask import g, request

from singa.admin.auth import TokenClaims, authenticate
from singa.admin.context import admin_context
from singa.constants import UserType
from singa.meta_store.records import UserRecord

ANY_USER = tuple(UserType)
ADMINS = (UserType.ADMIN,)                          # SUPERADMIN is always allowed
TEMPLATE_MAKERS = (UserType.ADMIN, UserType.MODEL_DEVELOPER)


def require_user(*user_types: UserType):
    """Let the view run only for a logged-in, unbanned user of one of ``user_types`` (any if none).

    The user's row is read again on every request, so bans and revoked tokens take effect at once.
    The view finds the caller with ``current_user()`` (their token with ``current_token()``); the roles
    are kept on the view for OpenAPI.
    """
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            ctx = admin_context()
            g.singa_user, g.singa_token = authenticate(ctx.meta_store, ctx.signer,
                                                       request.headers.get('Authorization'), user_types)
            return view(*args, **kwargs)
        wrapper.singa_roles = tuple(user_types) or ANY_USER
        return wrapper
    return decorate


def current_user() -> UserRecord:
    return g.singa_user


def current_token() -> TokenClaims:
    """The claims of the token the caller sent (its id, for a logout)."""
    return g.singa_token
