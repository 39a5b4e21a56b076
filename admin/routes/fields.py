"""Strict request parsing, declared once per endpoint and used both to parse and to document.

A route declares its inputs as a ``JsonBody``, ``FormBody`` or ``Query`` of ``Field``s; ``parse()``
returns a dict of typed values or raises ``InvalidRequestError`` naming the field at fault (missing,
wrong type, out of range, bad enum value, or unknown). ``schema()`` / ``parameters()`` give the same
declaration as OpenAPI, so the document says exactly what the code checks.

Two checks are shared by every field:

- **Text.** Every string, wherever it is in a request, passes ``singa.admin.services.text.check_text``
  (no control characters, no lone surrogates).
- **Numbers.** Every integer and number field declares its range (``minimum``, ``maximum``), so no
  value reaches the database or a worker that either could not hold.
"""
import datetime
import json
import math
import re
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from flask import request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter, IntegerConverter

from singa.admin.openapi import FREE_OBJECT, JSON_VALUE_REF
from singa.admin.services.text import check_json_value, check_text, text_pattern
from singa.admin.services.train_jobs import APP_NAME
from singa.errors import InvalidRequestError, NotFoundError

_JSON_TYPES = {str: 'string', int: 'integer', float: 'number', bool: 'boolean', list: 'array', dict: 'object'}
_MISSING = object()

@dataclass(frozen=True)
class Field:
    """One input. ``kind`` is str, int, float, bool, list, dict, uuid.UUID, datetime.datetime (an
    RFC 3339 date-time), a StrEnum, or ``object`` (any JSON value).

    Text: ``max_length`` (required), ``min_length``, ``multiline``, and ``pattern``, a rule of the
    field's own that must itself exclude control characters (``hint`` says it in words). Numbers:
    ``minimum`` and ``maximum`` (required). Lists: ``items``, the Field every item passes, and
    ``max_items`` (required). Objects: ``fields`` for one with exactly those keys (absent ones are
    left out, not defaulted), none for a free-form JSON object. ``forbidden``: values refused
    although the rest allows them.
    """
    name: str
    kind: Any = str
    required: bool = True
    default: Any = None
    description: str = ''
    max_length: Optional[int] = None
    min_length: int = 0
    multiline: bool = False
    pattern: Optional[str] = None
    hint: str = ''
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    items: Optional['Field'] = None
    min_items: int = 0
    max_items: Optional[int] = None
    fields: Optional[tuple] = None
    forbidden: tuple = ()

    def __post_init__(self):
        missing = {str: ('max_length',), int: ('minimum', 'maximum'), float: ('minimum', 'maximum'),
                   list: ('items', 'max_items')}.get(self.kind, ())
        unset = [name for name in missing if getattr(self, name) is None]
        if unset:
            raise TypeError(f'field {self.name!r} must declare {" and ".join(unset)}')

    # -- parsing -------------------------------------------------------------------------------

    def parse(self, raw, from_text: bool):
        """``raw`` came from JSON (typed) or, when ``from_text``, from a form or query string."""
        value = self._typed(raw, from_text)
        if value in self.forbidden and type(value) is type(self.forbidden[0]):
            raise InvalidRequestError(f'{self.name} must not be {value!r}', field=self.name)
        return value

    def _typed(self, raw, from_text: bool):
        if self.kind is str:
            return self._text(self._expect(raw, str))
        if isinstance(self.kind, type) and issubclass(self.kind, Enum):
            return self.kind.parse(check_text(self._expect(raw, str), self.name), field=self.name)
        if self.kind is uuid.UUID:
            try:
                return uuid.UUID(check_text(self._expect(raw, str), self.name))
            except ValueError:
                raise InvalidRequestError(f'{self.name} must be a UUID; got {raw!r}', field=self.name) from None
        if self.kind is datetime.datetime:
            return self._time(check_text(self._expect(raw, str), self.name))
        if from_text:
            return self._in_range(self._from_text(check_text(raw, self.name)))
        if self.kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            raw = float(raw) if abs(raw) < 2 ** 1023 else math.inf
        if self.kind is int and isinstance(raw, float) and raw.is_integer():
            raw = int(raw)                  # 2.0 is an integer to JSON Schema too
        if self.kind is object:
            return check_json_value(raw, self.name)
        value = self._expect(raw, self.kind)
        if self.kind is list:
            return self._list(value)
        if self.kind is dict:
            return self._object(value)
        return self._in_range(value)

    def _text(self, value: str) -> str:
        check_text(value, self.name, self.multiline)
        if not self.min_length <= len(value) <= self.max_length:
            raise InvalidRequestError(f'{self.name} must have {self.min_length} to {self.max_length} characters; '
                                      f'got {len(value)}', field=self.name)
        if self.pattern is not None and not re.search(self.pattern, value):
            raise InvalidRequestError(f'{self.name} must be {self.hint or "of the documented pattern"}; got {value!r}',
                                      field=self.name)
        return value

    def _time(self, text: str) -> datetime.datetime:
        """An RFC 3339 date-time (``Z`` or an offset; none: UTC); a leap second counts as the second before."""
        try:
            value = datetime.datetime.fromisoformat(re.sub(r'(T\d\d:\d\d:)60', r'\g<1>59', text.upper()))
        except ValueError:
            raise InvalidRequestError(f'{self.name} must be a date-time such as 2024-05-01T12:00:00Z; got {text!r}',
                                      field=self.name) from None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        try:        # in UTC: PostgreSQL takes offsets up to 15:59 only, RFC 3339 up to 23:59
            return value.astimezone(datetime.timezone.utc)
        except OverflowError:           # beyond year 1 or 9999 in UTC: the nearest time there is
            edge = datetime.datetime.min if value.year == 1 else datetime.datetime.max
            return edge.replace(tzinfo=datetime.timezone.utc)

    def _in_range(self, value):
        if self.kind in (int, float) and not (self.minimum <= value <= self.maximum):   # False for NaN too
            raise InvalidRequestError(f'{self.name} must be in [{self.minimum}, {self.maximum}]; got {value!r}',
                                      field=self.name)
        return value

    def _list(self, value: list) -> list:
        if not self.min_items <= len(value) <= self.max_items:
            raise InvalidRequestError(f'{self.name} must have {self.min_items} to {self.max_items} items; '
                                      f'got {len(value)}', field=self.name)
        return [self._inside(self.items._item, item) for item in value]

    def _object(self, value: dict):
        if self.fields is None:
            return check_json_value(value, self.name)
        return self._inside(_collect, self.fields, value, from_text=False, where=self.name, fill_defaults=False)

    def _item(self, raw):
        if raw is None:
            raise InvalidRequestError(f'{self.name} must not be null', field=self.name)
        return self.parse(raw, from_text=False)

    def _inside(self, parse, *args, **kwargs):
        """``parse(...)`` of a part of this field; an error names this field and says which part."""
        try:
            return parse(*args, **kwargs)
        except InvalidRequestError as e:
            raise InvalidRequestError(f'{self.name}: {e.message}', field=self.name) from None

    def _from_text(self, raw: str):
        try:
            if self.kind is bool:
                lowered = raw.strip().lower()
                if lowered in ('true', '1'):
                    return True
                if lowered in ('false', '0'):
                    return False
                raise ValueError(raw)
            if self.kind in (int, float):
                return self.kind(raw)
        except ValueError:
            raise InvalidRequestError(f'{self.name} must be a {_JSON_TYPES[self.kind]}; got {raw!r}',
                                      field=self.name) from None
        raise InvalidRequestError(f'{self.name} cannot be sent as text', field=self.name)

    def _expect(self, raw, kind: type):
        if not isinstance(raw, kind) or (kind is int and isinstance(raw, bool)):
            raise InvalidRequestError(
                f'{self.name} must be a {_JSON_TYPES.get(kind, kind.__name__)}; got {type(raw).__name__}',
                field=self.name)
        return raw

    # -- documenting ---------------------------------------------------------------------------

    def schema(self) -> dict:
        out = self._type_schema()
        if self.forbidden:
            out['not'] = {'enum': list(self.forbidden)}
        if self.description:
            out['description'] = self.description
        if self.default is not None:
            out['default'] = self.default.value if isinstance(self.default, Enum) else self.default
        return out

    def _type_schema(self) -> dict:
        if isinstance(self.kind, type) and issubclass(self.kind, Enum):
            return {'type': 'string', 'enum': [m.value for m in self.kind]}
        if self.kind is uuid.UUID:
            return {'type': 'string', 'format': 'uuid'}
        if self.kind is datetime.datetime:
            return {'type': 'string', 'format': 'date-time'}
        if self.kind is object:
            return dict(JSON_VALUE_REF)
        out = {'type': _JSON_TYPES[self.kind]}
        if self.kind is str:
            out.update(pattern=self.pattern or text_pattern(self.multiline), maxLength=self.max_length)
            if self.min_length:
                out['minLength'] = self.min_length
        elif self.kind in (int, float):
            out.update(minimum=self.minimum, maximum=self.maximum)
        elif self.kind is list:
            out.update(items=self.items.schema(), maxItems=self.max_items)
            if self.min_items:
                out['minItems'] = self.min_items
        elif self.kind is dict:
            out.update(_object_schema(self.fields) if self.fields is not None else FREE_OBJECT)
        return out


def _collect(fields: tuple, source: dict, from_text: bool, where: str, fill_defaults: bool = True) -> dict:
    """The values of ``fields`` in ``source``; absent optional ones get their default when
    ``fill_defaults``, else are left out."""
    known = {f.name for f in fields}
    for key in source:
        if key not in known:
            raise InvalidRequestError(f'unknown {where} field {key!r}; expected: {", ".join(sorted(known)) or "none"}',
                                      field=key)
    values = {}
    for f in fields:
        raw = source.get(f.name, _MISSING)
        if raw is _MISSING or (raw is None and not f.required):
            if f.required:
                raise InvalidRequestError(f'{f.name} is required', field=f.name)
            if fill_defaults:
                values[f.name] = f.default
        elif raw is None:
            raise InvalidRequestError(f'{f.name} must not be null', field=f.name)
        else:
            values[f.name] = f.parse(raw, from_text)
    return values


def _object_schema(fields: tuple, extra: Optional[dict] = None) -> dict:
    properties = {f.name: f.schema() for f in fields}
    properties.update(extra or {})
    schema = {'type': 'object', 'properties': properties, 'additionalProperties': False}
    required = [f.name for f in fields if f.required]
    if required:
        schema['required'] = required
    return schema


def _refuse_constant(name: str):
    raise ValueError(f'{name} is not JSON')


class JsonBody:
    """A JSON object body with exactly these fields (strict JSON: NaN and Infinity are refused);
    ``one_of``: optional fields of which exactly one must be given."""
    content_type = 'application/json'

    def __init__(self, *fields: Field, one_of: tuple = ()):
        self.fields = fields
        self.one_of = one_of

    def parse(self) -> dict:
        if request.mimetype != 'application/json':
            raise InvalidRequestError('send the body as JSON with "Content-Type: application/json"')
        try:
            body = json.loads(request.get_data(cache=True) or b'null', parse_constant=_refuse_constant)
        except ValueError as e:
            raise InvalidRequestError(f'the body is not valid JSON: {e}') from None
        except RecursionError:
            raise InvalidRequestError('the body is nested too deeply') from None
        if not isinstance(body, dict):
            raise InvalidRequestError('the body must be a JSON object')
        values = _collect(self.fields, body, from_text=False, where='body')
        if self.one_of and sum(values[name] is not None for name in self.one_of) != 1:
            raise InvalidRequestError(f'send exactly one of {" and ".join(self.one_of)}')
        return values

    def schema(self) -> dict:
        schema = _object_schema(self.fields)
        if self.one_of:
            schema['oneOf'] = [{'required': [name]} for name in self.one_of]
        return schema


class FormBody:
    """A ``multipart/form-data`` body: text ``fields`` and ``files`` (names of file parts);
    ``one_of``: optional fields or files of which exactly one must be given."""
    content_type = 'multipart/form-data'

    def __init__(self, *fields: Field, files: dict[str, str], optional_files: tuple = (), one_of: tuple = ()):
        self.fields = fields
        self.files = files                      # name -> description
        self.optional_files = optional_files
        self.one_of = one_of

    def parse(self) -> tuple[dict, dict[str, FileStorage]]:
        if request.mimetype != 'multipart/form-data':
            raise InvalidRequestError('send the body as multipart/form-data')
        files = {}
        for key in request.files:
            if key not in self.files:
                raise InvalidRequestError(f'unknown file field {key!r}; expected: {", ".join(self.files)}', field=key)
            parts = request.files.getlist(key)
            if len(parts) != 1:
                raise InvalidRequestError(f'send exactly one file as {key!r}', field=key)
            files[key] = parts[0]
        for key in self.files:
            if key not in files and key not in self.optional_files:
                raise InvalidRequestError(f'the file {key} is required', field=key)
        form = {}
        for key in request.form:
            if key in self.files:
                raise InvalidRequestError(f'{key} must be sent as a file, not as a text field', field=key)
            values = request.form.getlist(key)
            if len(values) != 1:
                raise InvalidRequestError(f'send {key} once', field=key)
            form[key] = values[0]
        values = _collect(self.fields, form, from_text=True, where='form')
        given = [name for name in self.one_of if name in files or values.get(name) is not None]
        if self.one_of and len(given) != 1:
            raise InvalidRequestError(f'send exactly one of {" and ".join(self.one_of)}',
                                      field=given[-1] if given else self.one_of[0])
        return values, files

    def schema(self) -> dict:
        file_schemas = {name: {'type': 'string', 'format': 'binary', 'description': text}
                        for name, text in self.files.items()}
        schema = _object_schema(self.fields, file_schemas)
        schema['required'] = schema.get('required', []) + [n for n in self.files if n not in self.optional_files]
        if self.one_of:
            schema['oneOf'] = [{'required': [name]} for name in self.one_of]
        return schema


class Query:
    """Query-string parameters, each at most once."""

    def __init__(self, *fields: Field):
        self.fields = fields

    def parse(self) -> dict:
        source = {}
        for key in request.args:
            values = request.args.getlist(key)
            if len(values) != 1:
                raise InvalidRequestError(f'send {key} once', field=key)
            source[key] = values[0]
        return _collect(self.fields, source, from_text=True, where='query')

    def parameters(self) -> list[dict]:
        return [{'name': f.name, 'in': 'query', 'required': f.required, 'schema': f.schema()}
                for f in self.fields]


NO_QUERY = Query()
# Jobs are addressed as the caller's own; an admin may name another owner (anyone else gets a 404).
OWNER = Field('user_id', uuid.UUID, required=False, description="Admins only: another user's, not your own")
OWNER_QUERY = Query(OWNER)


def path_uuid(value: str, resource: str) -> uuid.UUID:
    """A path segment that must be a UUID; anything else is a 404 for that resource (ids can't be probed)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError(f'no such {resource}', resource=resource, id=value) from None


# -- path segments ---------------------------------------------------------------------------
# A job's app and version in a path are matched by the URL map itself: anything else is no such
# endpoint (404), and the document takes each converter's rule as the parameter's schema.
MAX_APP_VERSION = 2 ** 31 - 1


class AppNameConverter(BaseConverter):
    """An app name (``check_app_name``'s rule) as a path segment."""
    regex = APP_NAME.pattern.lstrip('^').rstrip('$')
    openapi_schema = {'type': 'string', 'pattern': APP_NAME.pattern, 'maxLength': 64}


class AppVersionConverter(IntegerConverter):
    """An app version as a path segment: -1 (the latest) or a version number. One out of range is
    no such endpoint at once (raised, not a failed match, which Werkzeug would answer with a 405
    when the path has a route for another method)."""
    openapi_schema = {'type': 'integer', 'minimum': -1, 'maximum': MAX_APP_VERSION}

    def __init__(self, url_map):
        super().__init__(url_map, signed=True)

    def to_python(self, value: str) -> int:
        version = super().to_python(value)
        if not -1 <= version <= MAX_APP_VERSION:
            raise NotFound()
        return version


class LogNameConverter(BaseConverter):
    """The name of one of a job's service logs, ``<service>-<replica>.log``, as a path segment."""
    regex = r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,70}-[0-9]{1,6}\.log'
    openapi_schema = {'type': 'string', 'pattern': f'^{regex}$', 'maxLength': 82}


CONVERTERS = {'app_name': AppNameConverter, 'app_version': AppVersionConverter, 'log_name': LogNameConverter}
APP = '<app_name:app>'
VERSION = '<app_version:app_version>'
LOG_NAME = '<log_name:name>'
