"""The one error tree of SingaAuto.

Every error carries data (the resource and id it is about, the request field at fault) as well as
a message, so the admin can put it in its JSON error envelope and the client can raise the same
class again on the other side. The HTTP status of each class lives in one table,
``singa.admin.http_errors``; ``status_code`` is filled in by the client from the response.
"""
from typing import Any, Optional


class SingaError(Exception):
    """Base of every error SingaAuto raises on purpose."""

    def __init__(self, message: str = '', *, resource: Optional[str] = None, id: Any = None,
                 field: Optional[str] = None, details: Optional[dict] = None):
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.resource = resource
        self.id = id
        self.field = field
        self.details = details or {}
        self.status_code: Optional[int] = None

    @property
    def retry_after(self) -> Optional[int]:
        """Seconds to wait before trying again, when the error says (sent as the ``Retry-After`` header)."""
        value = self.details.get('retry_after')
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def to_dict(self) -> dict:
        """The body of the error envelope: ``{"type", "message", "resource"?, "id"?, ...}``."""
        body = {'type': type(self).__name__, 'message': self.message}
        for key in ('resource', 'id', 'field'):
            value = getattr(self, key)
            if value is not None:
                body[key] = str(value) if key == 'id' else value
        if self.details:
            body['details'] = self.details
        return body

    @classmethod
    def from_dict(cls, body: dict, status_code: Optional[int] = None) -> 'SingaError':
        """Rebuild the error named by an envelope body (unknown names become ``SingaError``)."""
        err_cls = ERRORS_BY_NAME.get(body.get('type'), SingaError)
        err = err_cls(body.get('message', ''), resource=body.get('resource'), id=body.get('id'),
                      field=body.get('field'), details=body.get('details'))
        err.status_code = status_code
        return err


# 400: the request itself is wrong.
class InvalidRequestError(SingaError):
    """A missing, malformed or out-of-range request field."""


class InvalidDatasetError(InvalidRequestError):
    """An uploaded dataset does not match its task's format."""


class InvalidModelError(InvalidRequestError):
    """An uploaded model template does not import, lacks its class, or has a bad knob space."""


class WeakPasswordError(InvalidRequestError):
    """A new password the policy refuses: too easy to guess, or the account's email."""


# Two knob errors, one per layer. Both names are error ``type``s of the API, which clients match
# on (a checkpoint deployment answers InvalidKnobError, an enqueued trial InvalidKnobsError), so
# they stay two classes rather than one.
class InvalidKnobError(InvalidRequestError):
    """The SDK's knob module (``singa.model.knob``) refuses a knob or a value: a knob built with bad
    arguments, a knob config that is malformed (a template's ``get_knob_config``, a serialized
    config), or a value the knob cannot take, including the knob values given to deploy a
    template's checkpoint (``untuned_values``); ``field``, when set, names the knob."""


class InvalidKnobsError(InvalidRequestError):
    """A knob set for one trial that a train job's search space (``singa.advisor.space``) refuses:
    a trial enqueued with given knobs that names an unknown, policy or inactive knob, leaves one
    out, or gives one a value it cannot take; ``field`` names the bad knob (``knobs.<name>``)."""


class InvalidParamsError(InvalidRequestError):
    """Model parameters of a type that cannot be stored, or a corrupt parameter file."""


class DownloadError(InvalidRequestError):
    """A URL the platform was given to fetch (``dataset_url``) could not be fetched: its host does
    not resolve or answer, it answered an error, or it took too long."""


# 401 / 403: who is asking.
class UnauthenticatedError(SingaError):
    """No credentials, or credentials that are wrong."""


class InvalidTokenError(UnauthenticatedError):
    """A token that is malformed, forged, expired or revoked."""


class ForbiddenError(SingaError):
    """The caller is known but may not do this."""


class QuotaExceededError(ForbiddenError):
    """A request that would take the caller over one of their quotas; ``details`` names the limit
    (``limit``), what it allows (``allowed``), what is in use (``in_use``) and what was asked (``requested``)."""


# 404 / 405 / 409 / 413 / 422.
class NotFoundError(SingaError):
    """No such object, or one the caller may not see (never tells which)."""


class MethodNotAllowedError(SingaError):
    """An HTTP method the endpoint does not offer."""


class ConflictError(SingaError):
    """The request clashes with the current state (a duplicate, an object in use, a live job)."""


class RequestInProgressError(ConflictError):
    """A request with the same ``Idempotency-Key`` is still being processed; retry after ``retry_after`` s."""


class IdempotencyKeyReusedError(InvalidRequestError):
    """An ``Idempotency-Key`` sent again with a different request (method, path or body)."""


# 429: slow down.
class TooManyRequestsError(SingaError):
    """Too many failed attempts (logins) in a short time; ``retry_after`` says how many seconds to wait."""


class PayloadTooLargeError(SingaError):
    """An upload over the configured size limit."""


# 5xx: the platform's side.
class ServiceUnavailableError(SingaError):
    """A dependency (a worker, the database, Redis) could not answer in time."""


class StoreError(SingaError):
    """A driver error from PostgreSQL, Redis or the file store, translated at the boundary."""


class ContainerError(SingaError):
    """The container manager could not create, inspect or remove a service."""


class ConfigError(SingaError):
    """Settings missing or invalid at start-up."""


class ModelRuntimeError(SingaError):
    """User model code raised while training, evaluating or predicting."""


class TrialPruned(SingaError):
    """Raised by ``logger.report`` inside a trial when the advisor decides to stop it early."""


ERRORS_BY_NAME = {}


def _register(cls):
    ERRORS_BY_NAME[cls.__name__] = cls
    for sub in cls.__subclasses__():
        _register(sub)


_register(SingaError)
