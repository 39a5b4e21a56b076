"""What the platform gives model code: its Python and the packages it ships.

``PlatformFacts.here()`` describes the interpreter it runs in. A template's environment is built
for the facts its sandbox reports (``python -s -m singa.envs.describe``, run in the process sandbox
or in a container of the worker image on Swarm), so it holds exactly what that interpreter lacks.
The facts are data from another process: ``from_dict`` checks them.
"""
import dataclasses
import re
import sys
from typing import Optional

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from singa.errors import SingaError

_PYTHON = re.compile(r'^[0-9]{1,2}\.[0-9]{1,3}$')
_TAG = re.compile(r'^[A-Za-z0-9_.]{1,64}-[A-Za-z0-9_.]{1,64}-[A-Za-z0-9_.]{1,200}$')
_NAME = re.compile(r'^[a-z0-9](?:[a-z0-9.-]{0,200}[a-z0-9])?$')
MAX_DISTRIBUTIONS = 5000


@dataclasses.dataclass(frozen=True)
class PlatformFacts:
    """``python``: ``major.minor``; ``tag``: the interpreter's most specific wheel tag (it names
    the ABI, the C library and the machine: ``cp311-cp311-manylinux_2_36_x86_64``);
    ``distributions``: ``(canonical name, version)`` of every installed package, sorted."""
    python: str
    tag: str
    distributions: tuple

    @classmethod
    def here(cls) -> 'PlatformFacts':
        from importlib import metadata
        found = {}
        for dist in metadata.distributions():        # in path order: the first one of a name is imported
            name = dist.metadata['Name']
            if name and dist.version:
                found.setdefault(canonicalize_name(name), dist.version)
        return cls(python=_python_here(), tag=_tag_here(), distributions=tuple(sorted(found.items())))

    def to_dict(self) -> dict:
        return {'python': self.python, 'tag': self.tag, 'distributions': [list(d) for d in self.distributions]}

    @classmethod
    def from_dict(cls, value) -> 'PlatformFacts':
        """Checked facts (``SingaError``, a 500, if ``value`` is not what ``to_dict`` makes)."""
        try:
            python, tag, dists = value['python'], value['tag'], value['distributions']
            ok = (isinstance(python, str) and _PYTHON.match(python) and isinstance(tag, str) and _TAG.match(tag)
                  and isinstance(dists, list) and len(dists) <= MAX_DISTRIBUTIONS)
            pairs = []
            for name, version in dists if ok else ():
                if not (isinstance(name, str) and _NAME.match(name) and isinstance(version, str)):
                    raise ValueError(name)
                Version(version)
                pairs.append((name, version))
        except (KeyError, TypeError, ValueError, InvalidVersion):
            ok = False
        if not ok:
            raise SingaError('the platform description from the sandbox is malformed')
        return cls(python=python, tag=tag, distributions=tuple(sorted(dict(pairs).items())))

    def version_of(self, name: str) -> Optional[str]:
        return dict(self.distributions).get(canonicalize_name(name))

    def constraints(self) -> str:
        """A pip constraints file pinning every package the platform ships to its version."""
        return ''.join(f'{name}=={version}\n' for name, version in self.distributions)

    def is_here(self) -> bool:
        """Whether wheels for this interpreter are wheels for the one running this code."""
        return self.python == _python_here() and self.tag == _tag_here()

    def pip_target_args(self) -> list:
        """``pip download`` options that pick wheels for this interpreter rather than the running one."""
        if self.is_here():
            return []
        interpreter, abi, platform = self.tag.split('-')
        args = ['--python-version', self.python, '--implementation', interpreter[:2], '--abi', abi, '--abi', 'abi3',
                '--abi', 'none']
        for tag in _compatible_platforms(platform):
            args += ['--platform', tag]
        return args


def _python_here() -> str:
    return f'{sys.version_info[0]}.{sys.version_info[1]}'


def _tag_here() -> str:
    """The most specific wheel tag of this interpreter: the newest manylinux one where there is one
    (packaging lists the plain ``linux_<arch>`` tag first)."""
    from packaging.tags import sys_tags
    tags = [str(t) for t in sys_tags()]
    return next((t for t in tags if '-manylinux_' in t), tags[0])


def _compatible_platforms(platform: str) -> list:
    """``platform`` and the older manylinux tags a machine with it also runs (``manylinux_2_36_x86_64``
    runs ``manylinux_2_17`` .. ``manylinux_2_36`` wheels and ``linux_x86_64`` ones)."""
    match = re.match(r'^manylinux_(\d+)_(\d+)_(\w+)$', platform)
    if not match:
        return [platform]
    major, minor, arch = int(match.group(1)), int(match.group(2)), match.group(3)
    return [f'manylinux_{major}_{m}_{arch}' for m in range(minor, 4, -1)] + [f'linux_{arch}']


def conflicts(requirements: list, facts: PlatformFacts) -> list:
    """``(requirement, name, version)`` for each requirement that the version of a package the
    platform ships does not satisfy: installing it would replace that package."""
    found = []
    for text in requirements:
        requirement = Requirement(text)
        version = facts.version_of(requirement.name)
        if version is not None and not requirement.specifier.contains(version, prereleases=True):
            found.append((text, canonicalize_name(requirement.name), version))
    return found


def unmet(requirements: list, facts: PlatformFacts) -> list:
    """The requirements the platform's packages do not satisfy already (one with extras always
    needs its extras' packages)."""
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        version = facts.version_of(requirement.name)
        if version is None or requirement.extras or not requirement.specifier.contains(version, prereleases=True):
            missing.append(text)
    return missing
