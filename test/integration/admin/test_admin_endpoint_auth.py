"""Every protected endpoint, found from the URL map, refuses bad credentials and wrong roles alike."""
import time
import re
import uuid

import pytest

from admin_helpers import error_of
from singa.admin.auth import TokenSigner
from singa.admin.routes.guards import ANY_USER
from singa.constants import UserType


def protected_endpoints(app) -> list[tuple[str, str, tuple]]:
    """``(method, path with ids filled in, allowed roles)`` for every route behind ``require_user``."""
    found = []
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], 'singa_roles', None)
        if roles is None:
            continue
        samples = {'app_version': '1', 'app': 'app', 'name': 'train-1.log'}    # any other argument is an id
        path = re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', lambda m: samples.get(m.group(1), str(uuid.uuid4())), rule.rule)
        for method in sorted(rule.methods - {'HEAD', 'OPTIONS'}):
            found.append((method, path, roles))
    return sorted(found)


def test_there_are_protected_endpoints_and_public_ones(app):
    endpoints = protected_endpoints(app)
    assert len(endpoints) >= 12
    public = {r.rule for r in app.url_map.iter_rules()
              if getattr(app.view_functions[r.endpoint], 'singa_roles', None) is None}
    # The web admin's shell and static files hold no data: its pages log in and then use the API.
    assert public == {'/', '/health', '/openapi.json', '/tokens', '/web/', '/web/<path:page>',
                      '/web/static/<path:filename>'}


def test_every_protected_endpoint_refuses_bad_tokens(app, api, superadmin, app_dev, admin_user):
    claims = api.ctx.signer.verify(app_dev.token)
    expired, _ = api.ctx.signer.issue(claims.user_id, claims.user_type, claims.epoch,
                                      now=time.time() - api.ctx.settings.token_ttl_seconds - 5)
    forged, _ = TokenSigner('not-the-admins-secret-at-all', 3600).issue(uuid.UUID(superadmin.id), 'SUPERADMIN', 0)
    assert api.delete('/users', admin_user, json={'email': app_dev.email}).status_code == 200
    banned = app_dev.token
    for method, path, _ in protected_endpoints(app):
        error_of(api.call(method, path), 401, 'UnauthenticatedError')
        for token in (expired, forged, banned, 'garbage'):
            error_of(api.call(method, path, token=token), 401, 'InvalidTokenError')


@pytest.mark.parametrize('user_type', [UserType.MODEL_DEVELOPER, UserType.APP_DEVELOPER])
def test_every_endpoint_refuses_roles_it_does_not_allow(app, api, user_type, model_dev, app_dev):
    # (ADMINs may call every endpoint; what they may do there is tested per endpoint.)
    user = model_dev if user_type == UserType.MODEL_DEVELOPER else app_dev
    checked = 0
    for method, path, roles in protected_endpoints(app):
        if roles != ANY_USER and user_type not in roles:
            error_of(api.call(method, path, user), 403, 'ForbiddenError')
            checked += 1
    assert checked > 0
