"""What the predictor accepts, checked at the edge before anything is queued.

``POST /predict`` takes a UTF-8 JSON object ``{"query": q}`` or ``{"queries": [q, ...]}``,
optionally with ``"details": true``; ``POST /`` (the original SingaAuto's contract) takes any
JSON value as one query, or images (``images.py``). JSON as the standard defines it: ``NaN``, ``Infinity`` and ``-Infinity``
(which Python's parser would take) and numbers too large for a double (``1e999``) are refused,
so that every query can be passed on as JSON. Limits (``BodyLimits``, from the settings): the
body's size (Flask refuses a larger one with 413), the number of queries in a request, and how
deeply a query nests (``[[1, 2]]`` is 2; Python's parser itself refuses about 1000 levels, so a
deeper body never costs more than its parse). Every refusal is an ``InvalidRequestError`` (400)
that says what is wrong.
"""
import dataclasses
import json
import math

from singa.errors import InvalidRequestError

FIELDS = {'query', 'queries', 'details'}


@dataclasses.dataclass(frozen=True)
class BodyLimits:
    max_bytes: int = 32 << 20
    max_queries: int = 1000
    max_depth: int = 32            # nesting levels of one query: [[1, 2]] is 2
    max_image_pixels: int = 1 << 20   # in all the images of one request (POST / with images)

    @classmethod
    def from_settings(cls, settings) -> 'BodyLimits':
        return cls(settings.predictor_max_body_bytes, settings.predictor_max_queries, settings.predictor_max_depth,
                   settings.predictor_max_image_pixels)


@dataclasses.dataclass(frozen=True)
class PredictBody:
    queries: list
    single: bool                   # sent as {"query": q}: answer {"prediction": p}
    details: bool
    size: int                      # bytes of the body


class _NotANumber(ValueError):
    pass


def parse_predict_body(raw: bytes, limits: BodyLimits) -> PredictBody:
    """The queries of a ``POST /predict`` body, or ``InvalidRequestError`` saying what is wrong."""
    body = _parse_json(raw, limits)
    if not isinstance(body, dict):
        raise InvalidRequestError('send a JSON object: {"query": ...} or {"queries": [...]}')
    unknown = set(body) - FIELDS
    if unknown:
        raise InvalidRequestError(f'unknown field(s) {", ".join(sorted(unknown))}', field=sorted(unknown)[0])
    details = body.get('details', False)
    if not isinstance(details, bool):
        raise InvalidRequestError('details must be true or false', field='details')
    if ('query' in body) == ('queries' in body):
        raise InvalidRequestError('send exactly one of "query" and "queries"')
    single = 'query' in body
    if single:
        if body['query'] is None:
            raise InvalidRequestError('query must not be null', field='query')
        queries, field = [body['query']], 'query'
    else:
        queries, field = body['queries'], 'queries'
        if not isinstance(queries, list) or not queries:
            raise InvalidRequestError('queries must be a non-empty list', field=field)
        if len(queries) > limits.max_queries:
            raise InvalidRequestError(f'send at most {limits.max_queries} queries per request', field=field)
        if any(q is None for q in queries):
            raise InvalidRequestError('queries must not contain null', field=field)
    _check_values(queries, limits, field)
    return PredictBody(queries, single, details, len(raw))


def parse_query_body(raw: bytes, limits: BodyLimits) -> PredictBody:
    """The one query of a ``POST /`` JSON body (the whole body is the query, as SingaAuto had it)."""
    query = _parse_json(raw, limits)
    if query is None:
        raise InvalidRequestError('send one query as the JSON body (any JSON value but null), or images as '
                                  'multipart/form-data fields named "img"')
    _check_values([query], limits, 'body')
    return PredictBody([query], single=False, details=False, size=len(raw))


def _parse_json(raw: bytes, limits: BodyLimits):
    """The JSON value of a body (None if it is not JSON), refusing what ``_refuse_constant`` does."""
    try:
        return json.loads(raw.decode('utf-8'), parse_constant=_refuse_constant)
    except _NotANumber as e:
        raise InvalidRequestError(f'{e} is not a JSON number; send finite numbers (or null)') from None
    except UnicodeDecodeError:
        raise InvalidRequestError('the body must be UTF-8 encoded JSON') from None
    except RecursionError:        # nested far deeper than any limit
        raise _too_deep(limits) from None
    except ValueError:
        return None


def _check_values(queries: list, limits: BodyLimits, field: str) -> None:
    """Refuse a query nested deeper than the limit or holding a number beyond a double (``1e999``
    parses as infinity). One pass, level by level."""
    level, depth = queries, 0
    while level:
        below = []
        for value in level:
            kind = type(value)
            if kind is float:
                if not math.isfinite(value):
                    raise InvalidRequestError('a number in the queries is too large for a double; '
                                              'send finite numbers', field=field)
            elif kind is list:
                below.extend(value)
            elif kind is dict:
                below.extend(value.values())
        if below:
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(limits, field)
        level = below


def _refuse_constant(name: str):
    raise _NotANumber(name)


def _too_deep(limits: BodyLimits, field=None) -> InvalidRequestError:
    return InvalidRequestError(f'a query may nest at most {limits.max_depth} levels of arrays and objects',
                               field=field)
