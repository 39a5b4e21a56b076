"""The fuzzing run's hooks module (schemathesis.toml): how it authenticates, and one check.

``SuperadminToken`` gives every request a token of the superadmin, issued the way the admin issues
them (``admin_server.superadmin_token``, with the fuzzed admin's settings from the environment).
A login would not do: the fuzzer's own failed logins soon lock the address, and its
``DELETE /tokens`` revokes every token issued so far, so a refused token (401) is replaced.

``schema_valid_request_accepted`` is Schemathesis's ``positive_data_acceptance`` made exact for this
API: a request generated valid by the schema must be accepted, unless it is refused for the state
of things, never for its shape. The state refusals are 403 (what this caller may not do to this
object), 404 (no such object), 409 (a conflict with the current state), 401 from ``POST /tokens``
(wrong credentials), 429 (too many failed logins), 422 for an ``Idempotency-Key`` already used for
another request, and a 400 about what a schema cannot say: an uploaded file's contents
(``InvalidDatasetError``, ``InvalidModelError``, ``InvalidParamsError``: a CSV's columns, a
template's Python, a checkpoint's parameters; ``InvalidKnobsError``: knobs a template's knob space
refuses), how easy a new password is to guess (``WeakPasswordError``, zxcvbn's verdict) or what the
server at a ``dataset_url`` did (``DownloadError``: its host does not resolve, it does not
answer). A case that breaks its body's ``oneOf`` (exactly one of two fields, such as ``dataset``
and ``dataset_url``) is not valid by the schema, though the coverage phase sends such combinations
as positive: it is not held to this check.
"""
import functools

import schemathesis

from admin_server import superadmin_token
from singa.config import Settings
from singa.meta_store.db import MetaStore

STATE_STATUSES = {403, 404, 409}
CONTENT_ERRORS = {'InvalidDatasetError', 'InvalidModelError', 'InvalidParamsError', 'InvalidKnobsError',
                  'WeakPasswordError', 'DownloadError'}
STATE_ERRORS = {(429, 'TooManyRequestsError'), (422, 'IdempotencyKeyReusedError')}
LOGIN = 'POST /tokens'


@schemathesis.check
def schema_valid_request_accepted(ctx, response, case):
    if case.meta is None or not case.meta.generation.mode.is_positive or _breaks_one_of(case):
        return None
    status = response.status_code
    if 200 <= status < 300 or status in STATE_STATUSES:
        return None
    if status == 401 and case.operation.label == LOGIN:
        return None
    if (status, _error_type(response)) in STATE_ERRORS or (status == 400 and _error_type(response) in CONTENT_ERRORS):
        return None
    raise AssertionError(f'a request valid by the schema was refused with {status}: {response.text[:300]}')


def _breaks_one_of(case) -> bool:
    """Whether the body lacks, or has more than one, of the fields its schema's ``oneOf`` names."""
    if not isinstance(case.body, dict):
        return False
    content = case.operation.definition.raw.get('requestBody', {}).get('content', {})
    for media in content.values():
        choices = [set(choice.get('required', ())) for choice in media.get('schema', {}).get('oneOf', ())]
        if choices and all(choices) and sum(names <= case.body.keys() for names in choices) != 1:
            return True
    return False


def _error_type(response) -> str:
    try:
        return response.json()['error']['type']
    except (ValueError, KeyError, TypeError):
        return ''


@functools.lru_cache(maxsize=1)
def _admin() -> tuple[Settings, MetaStore]:
    settings = Settings.from_env()
    return settings, MetaStore(settings.postgres_dsn)


@schemathesis.auth(retry_on=[401])
class SuperadminToken:
    def get(self, case, ctx):
        return superadmin_token(*_admin())

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers['Authorization'] = f'Bearer {data}'
