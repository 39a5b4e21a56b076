"""``@idempotent``: a creating route that honours the ``Idempotency-Key`` header.

Put it under ``@require_user`` (the key is the caller's). Without the header the view simply
runs; with it, the rules of ``singa.admin.services.idempotency`` apply: a retry gets the first
answer again (with ``Idempotent-Replayed: true``), whatever the first answer was, unless it was
the server's own failure. Routes that are safe to repeat as they are (stopping a job, logging
out, banning, a prediction) do without.
"""
import functools
import logging

from flask import Response, make_response, request

from singa.admin import http_errors
from singa.admin.context import admin_context
from singa.admin.routes.guards import current_user
from singa.admin.services.idempotency import HEADER, KEEP_SECONDS, StoredAnswer
from singa.errors import SingaError

log = logging.getLogger(__name__)

REPLAYED_HEADER = 'Idempotent-Replayed'


def idempotent(view=None, *, keep_seconds: float = KEEP_SECONDS):
    """Mark a view as replayable under an ``Idempotency-Key``; its answer is kept ``keep_seconds``."""
    if view is None:
        return functools.partial(idempotent, keep_seconds=keep_seconds)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        keys = admin_context().idempotency
        user_id = current_user().id
        stored = keys.begin(user_id, key, _fingerprint(keys), keep_seconds)
        if stored is not None:
            response = Response(stored.body, status=stored.status, content_type=stored.content_type)
            response.headers[REPLAYED_HEADER] = 'true'
            return response
        try:
            response = make_response(view(*args, **kwargs))
        except SingaError as e:
            if http_errors.status_for(e) >= 500:
                _abandon(keys, user_id, key)
                raise
            response = http_errors.handle_error(e)
        except BaseException:
            _abandon(keys, user_id, key)
            raise
        if response.status_code >= 500:
            _abandon(keys, user_id, key)
        else:
            keys.finish(user_id, key, StoredAnswer(response.status_code, response.get_data(), response.content_type))
        return response

    wrapper.singa_idempotent = True
    return wrapper


def _fingerprint(keys) -> str:
    """Method, path, query and body; an upload by its framing (its body is streamed, not read twice)."""
    if request.mimetype == 'multipart/form-data':
        content_type, body = request.content_type or '', str(request.content_length or 0).encode()
    else:
        content_type, body = request.mimetype, request.get_data(cache=True)
    return keys.fingerprint(request.method, request.path, request.query_string, content_type, body)


def _abandon(keys, user_id, key) -> None:
    try:
        keys.abandon(user_id, key)
    except SingaError:      # the claim then lapses after its lease
        log.warning('could not release the idempotency key of a failed request', exc_info=True)
