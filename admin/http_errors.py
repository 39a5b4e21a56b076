"""The one status table and the one JSON error handler of the admin.

Every error leaves as ``{"error": {"type", "message", ...}}`` (``SingaError.to_dict``) with the
status below; the client rebuilds the same class from ``type``. An error that says how long to
wait (``retry_after``: a 429, or a 409 for a request still in progress) also sets ``Retry-After``.
Werkzeug's own errors (unknown route, wrong method, body over ``MAX_CONTENT_LENGTH``, bad request)
are turned into the matching ``SingaError`` first. Anything unexpected is a 500 with a generic
message and a reference; its traceback goes to the server log only.
"""
import logging
import uuid

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from singa.errors import (ConflictError, ForbiddenError, IdempotencyKeyReusedError, InvalidRequestError,
                          MethodNotAllowedError, NotFoundError, PayloadTooLargeError, ServiceUnavailableError,
                          SingaError, TooManyRequestsError, UnauthenticatedError)

log = logging.getLogger(__name__)

# An error class maps to the status of the nearest class listed here in its MRO; the rest are 500.
STATUS_BY_ERROR: dict[type, int] = {
    InvalidRequestError: 400,       # and InvalidDatasetError, InvalidModelError, InvalidKnobError, ...
    UnauthenticatedError: 401,      # and InvalidTokenError
    ForbiddenError: 403,
    NotFoundError: 404,
    MethodNotAllowedError: 405,
    ConflictError: 409,             # and RequestInProgressError
    PayloadTooLargeError: 413,
    IdempotencyKeyReusedError: 422,
    TooManyRequestsError: 429,
    ServiceUnavailableError: 503,
}
ERROR_BY_STATUS: dict[int, type] = {status: cls for cls, status in STATUS_BY_ERROR.items()}
INTERNAL_STATUS = 500


def status_for(err: SingaError) -> int:
    for cls in type(err).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return INTERNAL_STATUS


def from_http_exception(e: HTTPException) -> SingaError:
    """The ``SingaError`` standing for a Werkzeug error, with a message fit for the client."""
    if e.code == 404:
        return NotFoundError(f'no such endpoint: {request.method} {request.path}')
    if e.code == 405:
        allowed = ', '.join(sorted(getattr(e, 'valid_methods', None) or []))
        return MethodNotAllowedError(f'{request.method} is not allowed on {request.path}; allowed: {allowed}')
    if e.code == 413:
        return PayloadTooLargeError('the request body is larger than this endpoint accepts')
    err_cls = ERROR_BY_STATUS.get(e.code or 0, InvalidRequestError if (e.code or 500) < 500 else SingaError)
    return err_cls(e.description or e.name)


def handle_error(e: Exception):
    """The app's only error handler (registered for ``Exception``, so it sees HTTP errors too)."""
    if isinstance(e, HTTPException):
        err, status = from_http_exception(e), e.code or INTERNAL_STATUS
    elif isinstance(e, SingaError):
        err, status = e, status_for(e)
    else:
        err, status = None, INTERNAL_STATUS
    if status == INTERNAL_STATUS:
        reference = uuid.uuid4().hex[:12]
        log.error('internal error %s on %s %s', reference, request.method, request.path, exc_info=e)
        err = SingaError(f'internal server error (reference {reference}); see the admin log')
    response = jsonify({'error': err.to_dict()})
    response.status_code = status
    if err.retry_after is not None:
        response.headers['Retry-After'] = str(err.retry_after)
    if isinstance(e, HTTPException) and e.code == 405 and getattr(e, 'valid_methods', None):
        response.headers['Allow'] = ', '.join(e.valid_methods)
    return response


def register_error_handler(app: Flask) -> None:
    app.register_error_handler(Exception, handle_error)
