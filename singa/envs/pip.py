"""The two pip steps of building a template's environment, and what pip said when one failed.

1. ``download`` (trusted, in the admin, with the network): ``pip download --only-binary=:all:``
   of the requirements, constrained to the platform's own versions, into a wheelhouse. Binary
   wheels only, so nothing of a package runs while it is resolved (a package published only as
   source code cannot be installed). The host's pip configuration applies (its index, its
   ``find-links``: an offline site's wheelhouse), plus ``<storage>/wheelhouse`` when it exists.
2. ``install_args``: the ``pip install`` that a sandbox runs with no network: ``--no-index`` from
   that wheelhouse into a ``--prefix``, constrained again; pip skips what the platform already
   has, so only the missing packages land in the prefix, and a requirement that would replace a
   platform package fails with pip's reason.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from singa.config import current_environment
from singa.envs.platform import PlatformFacts
from singa.errors import InvalidModelError

CONSTRAINTS = 'constraints.txt'        # in the wheelhouse, next to the wheels
MAX_REASON_CHARS = 2000
FIELD = 'dependencies'
WATCH_SECONDS = 0.5
_QUIET = ['--no-input', '--progress-bar', 'off', '--disable-pip-version-check']


def download(requirements: list, facts: PlatformFacts, wheelhouse: str, scratch: str, timeout: float,
             max_bytes: int, find_links=()) -> None:
    """Stage 1: the wheels of ``requirements`` and of what they need into ``wheelhouse``;
    ``InvalidModelError`` carrying pip's reason if they cannot be resolved, or when they take more
    than ``timeout`` seconds or (with pip's temporary files, kept in ``scratch``) ``max_bytes``."""
    constraints = os.path.join(wheelhouse, CONSTRAINTS)
    with open(constraints, 'w', encoding='utf-8') as f:
        f.write(facts.constraints())
    argv = [sys.executable, '-m', 'pip', 'download', '--only-binary=:all:', '--dest', wheelhouse, *_QUIET,
            '--constraint', constraints, *facts.pip_target_args()]
    for link in find_links:
        argv += ['--find-links', link]
    # pip is trusted and gets the host's pip settings, never the platform's own.
    env = {k: v for k, v in current_environment().items() if not k.startswith('SINGA_')}
    env['TMPDIR'] = scratch
    with tempfile.TemporaryFile() as output:
        popen = subprocess.Popen(argv + ['--', *requirements], env=env, cwd=wheelhouse, stdin=subprocess.DEVNULL,
                                 stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        over = _watch(popen, timeout, lambda: tree_size(wheelhouse) + tree_size(scratch) > max_bytes)
        output.seek(0)
        out = output.read()
    if over:
        raise InvalidModelError(over.format(mib=max_bytes >> 20), field=FIELD)
    if popen.returncode != 0:
        raise InvalidModelError('the dependencies cannot be installed: ' + reason(out), field=FIELD)


def _watch(popen: subprocess.Popen, timeout: float, too_big) -> Optional[str]:
    """Wait for ``popen``; kill its process group at ``timeout`` or as soon as ``too_big()``, and
    say which (a message, with ``{mib}`` for the size); None when it ended by itself."""
    deadline = time.monotonic() + timeout
    over = None
    while over is None:
        try:
            popen.wait(timeout=WATCH_SECONDS)
            return None
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                over = 'resolving the dependencies ran out of time (SINGA_DEPENDENCY_TIMEOUT)'
            elif too_big():
                over = 'the wheels of the dependencies are over {mib} MiB (SINGA_DEPENDENCY_MAX_MB)'
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    popen.wait()
    return over


def tree_size(root: str) -> int:
    """Bytes of the files under ``root`` (symbolic links not followed)."""
    total = 0
    for directory, _, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass             # gone meanwhile (pip moves its temporary files)
    return total


def drop_platform_wheels(wheelhouse: str, facts: PlatformFacts) -> None:
    """Remove the wheels of packages the platform has at that very version (pip skips them)."""
    for name in os.listdir(wheelhouse):
        try:
            dist, version, _, _ = parse_wheel_filename(name)
        except InvalidWheelFilename:
            continue
        installed = facts.version_of(dist)
        if installed is not None and Version(installed) == version:
            os.remove(os.path.join(wheelhouse, name))


def install_args(wheelhouse: str, prefix: str, requirements: list) -> list:
    """Stage 2: ``python`` arguments that install ``requirements`` from ``wheelhouse`` into ``prefix``
    (both as the sandbox sees them), offline, ignoring any pip configuration."""
    return ['-m', 'pip', 'install', '--isolated', '--no-index', '--find-links', wheelhouse, '--only-binary=:all:',
            '--prefix', prefix, *_QUIET, '--no-cache-dir', '--no-warn-script-location', '--root-user-action=ignore',
            '--constraint', os.path.join(wheelhouse, CONSTRAINTS), '--', *requirements]


def reason(output: bytes) -> str:
    """pip's own explanation of a failure: its ``ERROR:`` lines and the conflict it describes,
    without warnings, progress and advice, trimmed."""
    lines = output.decode('utf-8', 'replace').splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('ERROR:')), None)
    if start is None:
        kept = [line.strip() for line in lines if line.strip() and not line.startswith('WARNING:')][-5:]
    else:
        kept, advice = [], False
        for line in lines[start:]:
            if line.startswith('ERROR:'):
                advice = False
                line = line[len('ERROR:'):]
            elif line.startswith('To fix this you could try'):
                advice = True
            if advice or not line.strip() or line.startswith('WARNING:'):
                continue
            kept.append(line.strip())
    text = '\n'.join(kept) or 'pip failed without saying why'
    unreachable = [line for line in lines if line.startswith('WARNING: Retrying')]
    if unreachable:                  # why nothing was found: the index did not answer
        text += '\n(the package index could not be reached: ' + unreachable[-1][len('WARNING: '):][:400] + ')'
    if 'No matching distribution found' in text:
        text += ('\n(only binary wheels are installed: a package or version published only as source code '
                 'cannot be)')
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS - 3] + '...'
