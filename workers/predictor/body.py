"""What ``POST /predict`` accepts, checked at the edge before anything is queued.

A body is a UTF-8 JSON object ``{"query": q}`` or ``{"queries": [q, ...]}``, optionally with
``"details": true``. JSON as the standard defines it: ``NaN``, ``Infinity`` and ``-Infinity``
(which Python's parser would take) and numbers too large for a double (``1e999``) are refused,
so that every query can be passed on as JSON. Limits (``BodyLimits``, from the settings): the
body's size (Flask refuses a larger one with 413), the number of queries in a request, and how
deeply a query nests. Every refusal is an ``InvalidRequestError`` (400) that says what is wrong.
"""
import dataclasses
import itertools
import json
import math
import re

from singa.errors import InvalidRequestError

FIELDS = {'query', 'queries', 'details'}
# A JSON string (escapes included); what is left once strings are cut out holds the brackets.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b'[]{}')
_STEP = [0] * 256
for _c in b'[{':
    _STEP[_c] = 1
for _c in b']}':
    _STEP[_c] = -1
# Only a number with a 3-digit positive exponent or 309 digits can overflow a double.
_MAYBE_HUGE = re.compile(rb'[eE]\+?\d{3}|\d{309}')


@dataclasses.dataclass(frozen=True)
class BodyLimits:
    max_bytes: int = 32 << 20
    max_queries: int = 1000
    max_depth: int = 32            # nesting levels of one query: [[1, 2]] is 2

    @classmethod
    def from_settings(cls, settings) -> 'BodyLimits':
        return cls(settings.predictor_max_body_bytes, settings.predictor_max_queries, settings.predictor_max_depth)


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
    depth = nesting_depth(raw)
    if depth > limits.max_depth + 2:       # the deepest a body with acceptable queries can be
        raise _too_deep(limits)
    try:
        body = json.loads(raw.decode('utf-8'), parse_constant=_refuse_constant)
    except _NotANumber as e:
        raise InvalidRequestError(f'{e} is not a JSON number; send finite numbers (or null)') from None
    except UnicodeDecodeError:
        raise InvalidRequestError('the body must be UTF-8 encoded JSON') from None
    except (ValueError, RecursionError):
        body = None
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
    if depth - (1 if single else 2) > limits.max_depth:
        raise _too_deep(limits, field)
    if _MAYBE_HUGE.search(raw) and not _all_finite(queries):
        raise InvalidRequestError('a number in the queries is too large for a double; send finite numbers',
                                  field=field)
    return PredictBody(queries, single, details, len(raw))


def nesting_depth(raw: bytes) -> int:
    """How deeply the JSON text ``raw`` nests arrays and objects (brackets inside strings aside)."""
    brackets = _STRING.sub(b'', raw).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _refuse_constant(name: str):
    raise _NotANumber(name)


def _too_deep(limits: BodyLimits, field=None) -> InvalidRequestError:
    return InvalidRequestError(f'a query may nest at most {limits.max_depth} levels of arrays and objects',
                               field=field)


def _all_finite(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return True
