"""Validation of the text fields of a model template upload.

Dependencies become a list of plain requirement strings (``name[extras]<specifier>``): URLs, local
paths, pip options and environment markers are refused, because workers hand them to pip and
nothing from a user may steer pip anywhere else than the package index. The text of the field must
match ``DEPENDENCIES_PATTERN``, the grammar below (which the API documents as the field's pattern);
every text it matches is JSON that ``packaging`` parses as such requirements.
"""
import json
import keyword
import posixpath
import re
from typing import Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from singa.errors import InvalidModelError, InvalidRequestError

MAX_DEPENDENCIES = 100
MAX_DEPENDENCIES_LENGTH = 20_000
MAX_DESCRIPTION_LENGTH = 10_000
MAX_IMAGE_LENGTH = 255
MAX_MODULE_FILE_LENGTH = 255

# Requirements: a PEP 508 name, extras, and PEP 440 specifiers without local versions except
# after == and != (packaging refuses them elsewhere), and ~= only with two release segments.
_NAME = r'[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?'
_RELEASE = r'[0-9]{1,9}(?:\.[0-9]{1,9}){0,5}'
_SUFFIXES = r'(?:(?:a|b|rc)[0-9]{1,9})?(?:\.post[0-9]{1,9})?(?:\.dev[0-9]{1,9})?'
_LOCAL = r'(?:\+[A-Za-z0-9]{1,16}(?:\.[A-Za-z0-9]{1,16}){0,3})?'
_VERSION = _RELEASE + _SUFFIXES + _LOCAL
_SPEC = (rf'(?:(?:==|!=) *(?:{_VERSION}|{_RELEASE}\.\*)|(?:<=|>=|<|>) *{_RELEASE}{_SUFFIXES}'
         rf'|~= *[0-9]{{1,9}}(?:\.[0-9]{{1,9}}){{1,5}}{_SUFFIXES})')
_SPECS = rf'{_SPEC}(?: *, *{_SPEC}){{0,3}}'
_REQUIREMENT = rf' *{_NAME} *(?:\[ *{_NAME}(?: *, *{_NAME}){{0,4}} *\])? *(?:{_SPECS})? *'
_WS = r'[ \t\n\r]*'
_LIST = rf'\[{_WS}(?:"{_REQUIREMENT}"(?:{_WS},{_WS}"{_REQUIREMENT}"){{0,{MAX_DEPENDENCIES - 1}}})?{_WS}\]'
_PAIR = rf'"{_NAME}"{_WS}:{_WS}(?:"(?:\*?|{_VERSION}|{_SPECS})"|null)'
_OBJECT = rf'\{{{_WS}(?:{_PAIR}(?:{_WS},{_WS}{_PAIR}){{0,{MAX_DEPENDENCIES - 1}}})?{_WS}\}}'
DEPENDENCIES_PATTERN = rf'^{_WS}(?:{_LIST}|{_OBJECT})?{_WS}$'
_DEPENDENCIES = re.compile(DEPENDENCIES_PATTERN)
DEPENDENCIES_HINT = ('JSON: a list of requirements such as "scikit-learn>=1.3" or "torch[cuda]==2.1.0", or a '
                     '{name: version or specifier} object')

# A Python class name (ASCII; keywords are refused), and a .py module inside a zip.
MODEL_CLASS_PATTERN = r'^[A-Za-z_][A-Za-z0-9_]{0,254}$'
MODULE_FILE_PATTERN = r'^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.py$'

# Docker image references, after the grammar of distribution/reference.
_DOMAIN_COMPONENT = r'(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
_DOMAIN = rf'(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)'
_PATH_COMPONENT = r'(?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)'
_IMAGE_REFERENCE = (rf'(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*'
                    r'(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?'
                    r'(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?')
_IMAGE = re.compile(rf'^{_IMAGE_REFERENCE}$')
DOCKER_IMAGE_PATTERN = rf'^(?:{_IMAGE_REFERENCE})?$'        # empty: none


def parse_dependencies(raw: Optional[str]) -> list[str]:
    """``raw`` is JSON: a list of requirement strings, or a ``{name: version}`` dict ('' = any version)."""
    if raw is None or not raw.strip():
        return []
    if len(raw) > MAX_DEPENDENCIES_LENGTH or not _DEPENDENCIES.match(raw):
        raise _bad(f'dependencies must be {DEPENDENCIES_HINT}; got {raw[:200]!r}')
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
    if not text:
        raise _bad('a dependency must not be empty')
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
    if len(ref) > MAX_IMAGE_LENGTH or not _IMAGE.match(ref):
        raise InvalidRequestError(f'{ref!r} is not a valid Docker image reference (e.g. "registry:5000/repo/name:tag")',
                                  field='docker_image')
    return ref


def check_model_class(name: str) -> str:
    name = name.strip()
    if not name.isidentifier():
        raise InvalidRequestError(f'model_class must be a Python class name; got {name!r}', field='model_class')
    if keyword.iskeyword(name):
        # A name of the right form that no file can define a class by: the template lacks the class.
        raise InvalidModelError(f'model_class {name!r} is a Python keyword; no template can define a class '
                                'of that name', field='model_class')
    return name


def check_module_file_name(name: str) -> str:
    """The module file named inside a zip template: a relative ``.py`` path without ``..``."""
    name = name.strip()
    parts = name.split('/')
    if (not name.endswith('.py') or name.startswith('/') or '\\' in name or '..' in parts
            or posixpath.normpath(name) != name or len(name) > MAX_MODULE_FILE_LENGTH):
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
