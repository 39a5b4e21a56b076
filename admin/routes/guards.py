"""``require_user``: the route decorator that authenticates the caller and checks their role."""
import functools
import hmac

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


def require_metrics_reader(view):
    """Let Prometheus in: with ``SINGA_METRICS_TOKEN`` set, ``Authorization: Bearer <that token>``;
    an admin's login token always; anyone at all with ``SINGA_METRICS_PUBLIC=true``."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        ctx = admin_context()
        header = request.headers.get('Authorization') or ''
        token = ctx.settings.metrics_token
        if not ctx.settings.metrics_public and not (
                token and hmac.compare_digest(header.encode(), f'Bearer {token}'.encode())):
            authenticate(ctx.meta_store, ctx.signer, header or None, ADMINS)
        return view(*args, **kwargs)
    wrapper.singa_roles = ADMINS
    return wrapper
