"""Validation of the text fields of a model template upload.

Dependencies become a list of plain requirement strings (``name[extras]<specifier>``): URLs, local
paths, pip options and environment markers are refused, because workers hand them to pip and
nothing from a user may steer pip anywhere else than the package index.
"""
import json
import keyword
import posixpath
import re
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from singa.errors import InvalidRequestError

MAX_DEPENDENCIES = 100
MAX_REQUIREMENT_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000

# Docker image references, after the grammar of distribution/reference.
_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_DOMAIN = rf'(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)'
_PATH_COMPONENT = r'(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)'
_IMAGE = re.compile(rf'^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*'
                    r'(?::[\w][\w.-]{0,127})?'
                    r'(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$')


def parse_dependencies(raw: Optional[str]) -> list[str]:
    """``raw`` is JSON: a list of requirement strings, or a ``{name: version}`` dict ('' = any version)."""
    if raw is None or not raw.strip():
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        raise _bad('dependencies must be JSON: a list of requirements or a {name: version} object') from None
    if isinstance(value, dict):
        items = [_from_pair(name, version) for name, version in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        raise _bad('dependencies must be a JSON list of requirements or a {name: version} object')
    if len(items) > MAX_DEPENDENCIES:
        raise _bad(f'at most {MAX_DEPENDENCIES} dependencies are accepted')
    return [check_requirement(item) for item in items]


def _from_pair(name, version) -> str:
    if not isinstance(name, str) or not (version is None or isinstance(version, str)):
        raise _bad('in a dependencies object every key is a package name and every value a version string')
    version = (version or '').strip()
    if version in ('', '*'):
        return name
    try:
        Version(version)
        return f'{name}=={version}'
    except InvalidVersion:
        pass
    try:
        SpecifierSet(version)
    except InvalidSpecifier:
        raise _bad(f'{version!r} is neither a version nor a version specifier (for {name})') from None
    return f'{name}{version}'


def check_requirement(item) -> str:
    if not isinstance(item, str):
        raise _bad(f'every dependency must be a string; got {type(item).__name__}')
    text = item.strip()
    if not text or len(text) > MAX_REQUIREMENT_LENGTH:
        raise _bad(f'a dependency must have 1 to {MAX_REQUIREMENT_LENGTH} characters; got {item!r}')
    if text.startswith('-') or '/' in text or '\\' in text:
        raise _bad(f'{item!r} is not a package requirement (options, paths and URLs are refused)')
    try:
        requirement = Requirement(text)
    except InvalidRequirement as e:
        raise _bad(f'{item!r} is not a valid requirement: {e}') from None
    if requirement.url:
        raise _bad(f'{item!r} names a URL; only packages from the index are accepted')
    if requirement.marker is not None:
        raise _bad(f'{item!r} has an environment marker; markers are not accepted')
    return str(requirement)


def check_docker_image(ref: Optional[str]) -> Optional[str]:
    if ref is None or not ref.strip():
        return None
    ref = ref.strip()
    if len(ref) > 255 or not _IMAGE.match(ref):
        raise InvalidRequestError(f'{ref!r} is not a valid Docker image reference (e.g. "registry:5000/repo/name:tag")',
                                  field='docker_image')
    return ref


def check_model_class(name: str) -> str:
    name = name.strip()
    if not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidRequestError(f'model_class must be a Python class name; got {name!r}', field='model_class')
    return name


def check_module_file_name(name: str) -> str:
    """The module file named inside a zip template: a relative ``.py`` path without ``..``."""
    name = name.strip()
    parts = name.split('/')
    if (not name.endswith('.py') or name.startswith('/') or '\\' in name or '..' in parts
            or posixpath.normpath(name) != name or len(name) > 255):
        raise InvalidRequestError(f'model_file_name must be a relative path of a .py file inside the zip; '
                                  f'got {name!r}', field='model_file_name')
    return name


def check_description(text: Optional[str]) -> str:
    text = (text or '').strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidRequestError(f'model_description must be at most {MAX_DESCRIPTION_LENGTH} characters',
                                  field='model_description')
    return text


def _bad(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, field='dependencies')
