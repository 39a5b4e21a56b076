"""Strict request parsing, declared once per endpoint and used both to parse and to document.

A route declares its inputs as a ``JsonBody``, ``FormBody`` or ``Query`` of ``Field``s; ``parse()``
returns a dict of typed values or raises ``InvalidRequestError`` naming the field at fault (missing,
wrong type, bad enum value, or unknown). ``schema()`` / ``parameters()`` give the same declaration as
OpenAPI, so the document cannot drift from what the code accepts.
"""
import json
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional

from flask import request
from werkzeug.datastructures import FileStorage

from singa.errors import InvalidRequestError, NotFoundError

_JSON_TYPES = {str: 'string', int: 'integer', float: 'number', bool: 'boolean', list: 'array', dict: 'object'}
_MISSING = object()


@dataclass(frozen=True)
class Field:
    name: str
    kind: Any = str                 # str, int, float, bool, list, dict, uuid.UUID or a StrEnum
    required: bool = True
    default: Any = None
    description: str = ''
    max_length: Optional[int] = None

    def parse(self, raw, from_text: bool):
        """``raw`` came from JSON (typed) or, when ``from_text``, from a form or query string."""
        if self.kind is str:
            value = self._expect(raw, str)
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidRequestError(f'{self.name} is longer than {self.max_length} characters',
                                          field=self.name)
            return value
        if isinstance(self.kind, type) and issubclass(self.kind, Enum):
            return self.kind.parse(self._expect(raw, str), field=self.name)
        if self.kind is uuid.UUID:
            try:
                return uuid.UUID(self._expect(raw, str))
            except ValueError:
                raise InvalidRequestError(f'{self.name} must be a UUID; got {raw!r}', field=self.name) from None
        if from_text:
            return self._from_text(raw)
        if self.kind is float and isinstance(raw, int) and not isinstance(raw, bool):
            return float(raw)
        return self._expect(raw, self.kind)

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

    def schema(self) -> dict:
        if isinstance(self.kind, type) and issubclass(self.kind, Enum):
            out = {'type': 'string', 'enum': [m.value for m in self.kind]}
        elif self.kind is uuid.UUID:
            out = {'type': 'string', 'format': 'uuid'}
        else:
            out = {'type': _JSON_TYPES[self.kind]}
        if self.max_length is not None:
            out['maxLength'] = self.max_length
        if self.description:
            out['description'] = self.description
        if self.default is not None:
            out['default'] = self.default.value if isinstance(self.default, Enum) else self.default
        return out


def _collect(fields: tuple, source: dict, from_text: bool, where: str) -> dict:
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


class JsonBody:
    """A JSON object body with exactly these fields."""
    content_type = 'application/json'

    def __init__(self, *fields: Field):
        self.fields = fields

    def parse(self) -> dict:
        if request.mimetype != 'application/json':
            raise InvalidRequestError('send the body as JSON with "Content-Type: application/json"')
        try:
            body = json.loads(request.get_data(cache=True) or b'null')
        except ValueError as e:
            raise InvalidRequestError(f'the body is not valid JSON: {e}') from None
        if not isinstance(body, dict):
            raise InvalidRequestError('the body must be a JSON object')
        return _collect(self.fields, body, from_text=False, where='body')

    def schema(self) -> dict:
        return _object_schema(self.fields)


class FormBody:
    """A ``multipart/form-data`` body: text ``fields`` and ``files`` (names of file parts)."""
    content_type = 'multipart/form-data'

    def __init__(self, *fields: Field, files: dict[str, str], optional_files: tuple = ()):
        self.fields = fields
        self.files = files                      # name -> description
        self.optional_files = optional_files

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
        return _collect(self.fields, form, from_text=True, where='form'), files

    def schema(self) -> dict:
        file_schemas = {name: {'type': 'string', 'format': 'binary', 'description': text}
                        for name, text in self.files.items()}
        schema = _object_schema(self.fields, file_schemas)
        schema['required'] = schema.get('required', []) + [n for n in self.files if n not in self.optional_files]
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
