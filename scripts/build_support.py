#!/usr/bin/env python3
"""Facts that ``scripts/build_images.sh`` needs from Python: the package's version and runtime
requirements (read from ``setup.py``, the one source of truth), the host's pip package sources
turned into ``docker run`` arguments (their values in an environment file, never on a command
line), and exact pins of a wheelhouse. ``scripts/start.sh`` takes the same pip sources as
``docker service create`` arguments for the admin, which resolves templates' dependencies.

``setup.py`` is parsed, never executed: the ``setup(...)`` call's ``version``,
``install_requires`` and ``extras_require`` must be literals (they are), so no setuptools is needed
on the host and nothing is written into the tree.

Usage::

    build_support.py version
    build_support.py requirements [--extra NAME ...] [--extras-only]  # one requirement a line
    build_support.py pip-docker-args ENV_FILE          # one docker-run argument a line; writes ENV_FILE
    build_support.py pip-service-args ENV_FILE         # the same for docker service create
    build_support.py pins WHEEL_DIR                    # name==version for every wheel in WHEEL_DIR
"""
import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

SETUP_PY = Path(__file__).resolve().parent.parent / 'setup.py'
CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'
PROXY_VARS = ('HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy')


def setup_kwargs(path: Path = SETUP_PY) -> dict:
    """The literal keyword arguments of the ``setup(...)`` call in ``path`` (non-literals skipped)."""
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'), str(path))):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'setup':
            kwargs = {}
            for kw in node.keywords:
                try:
                    kwargs[kw.arg] = ast.literal_eval(kw.value)
                except ValueError:
                    continue
            return kwargs
    raise SystemExit(f'{path}: no setup(...) call found')


def requirements(extras: list[str], extras_only: bool = False) -> list[str]:
    """``install_requires`` (unless ``extras_only``) followed by the requirements of ``extras``."""
    kwargs = setup_kwargs()
    if 'install_requires' not in kwargs:
        raise SystemExit(f'{SETUP_PY}: install_requires must be a literal list')
    reqs = [] if extras_only else list(kwargs['install_requires'])
    available = kwargs.get('extras_require', {})
    for extra in extras:
        if extra not in available:
            raise SystemExit(f'unknown extra {extra!r}; setup.py defines {sorted(available)}')
        reqs.extend(available[extra])
    return reqs


def _pip_config() -> dict[str, str]:
    """The host pip's effective settings (``key -> value``); environment overrides files."""
    out = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'],
                         capture_output=True, text=True, check=False).stdout
    from_files, from_env = {}, {}
    for line in out.splitlines():
        match = re.match(r"^(:env:|[\w-]+)\.([\w-]+)='(.*)'$", line)
        if not match:
            continue
        scope, key, value = match.groups()
        if key == 'config-file':    # PIP_CONFIG_FILE: where the settings below came from, not one
            continue
        if scope in (':env:', 'global', 'install', 'download', 'wheel'):
            (from_env if scope == ':env:' else from_files)[key] = value
    return {**from_files, **from_env}


def _local_paths(value: str, index: bool) -> list[str]:
    """Existing local paths named in a pip setting's value (paths and file:// URLs, separated by
    white space). A local index's pages link to files beside it (``ROOT/simple/NAME/`` ->
    ``../../files/``), so for an index the parent directory is mounted."""
    paths = []
    for item in value.split():
        path = item[len('file://'):] if item.startswith('file://') else item
        if path.startswith('/') and os.path.exists(path):
            paths.append(os.path.dirname(path.rstrip('/')) if index else path)
    return paths


# pip settings whose values name local files or directories: each named path that exists is
# mounted read-only at the same path, so the setting means the same inside the container (a
# ``constraint`` file that caps torch, a local find-links directory, a local index...).
PATH_SETTINGS = {'find-links': False, 'index-url': True, 'extra-index-url': True,
                 'constraint': False, 'build-constraint': False, 'requirement': False,
                 'client-cert': False}


def pip_docker_args(env_file: Path) -> list[str]:
    """``docker run`` arguments that give pip in a container the host's pip configuration: the
    same settings as environment variables, every local file or directory they name mounted
    read-only at the same path, the host's CA bundle (TLS to the index is intercepted here), and
    proxies. The variables are written to ``env_file`` (mode 0600) and passed as ``--env-file``:
    an index URL or a proxy may carry a password, and command lines are visible to every user."""
    return ['--env-file', str(env_file)] + [arg for source, target in pip_sources(env_file)
                                            for arg in ('-v', f'{source}:{target}:ro')]


def pip_service_args(env_file: Path) -> list[str]:
    """The same as ``pip_docker_args``, as ``docker service create`` arguments (``--mount``)."""
    return ['--env-file', str(env_file)] + [arg for source, target in pip_sources(env_file)
                                            for arg in ('--mount', f'type=bind,source={source},target={target},readonly')]


def pip_sources(env_file: Path) -> list[tuple[str, str]]:
    """Write the host pip's settings and proxies to ``env_file`` (mode 0600); the ``(host path,
    container path)`` of every file they name, the CA bundle included."""
    config = _pip_config()
    env, mounts = [], set()
    cert = config.pop('cert', None) or (CA_BUNDLE if os.path.exists(CA_BUNDLE) else None)
    for key, value in sorted(config.items()):
        env.append(('PIP_' + key.upper().replace('-', '_'), value))
        if key in PATH_SETTINGS:
            mounts.update(_local_paths(value, index=PATH_SETTINGS[key]))
    sources = []
    if cert:
        # Mounted where Debian's tools look too, so the container trusts what the host trusts.
        env.append(('PIP_CERT', CA_BUNDLE))
        sources.append((cert, CA_BUNDLE))
    sources += [(path, path) for path in sorted(mounts)]
    env += [(var, os.environ[var]) for var in PROXY_VARS if os.environ.get(var)]
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.writelines(f'{name}={value}\n' for name, value in env)
    return sources


def wheel_pins(wheel_dir: Path) -> list[str]:
    """``name==version`` for each wheel file (PEP 427 names: ``name-version-...whl``)."""
    pins = []
    for wheel in sorted(wheel_dir.glob('*.whl')):
        name, version = wheel.name.split('-')[:2]
        pins.append(f'{name}=={version}')
    return pins


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('version')
    req = sub.add_parser('requirements')
    req.add_argument('--extra', action='append', default=[])
    req.add_argument('--extras-only', action='store_true')
    for name in ('pip-docker-args', 'pip-service-args'):
        sub.add_parser(name).add_argument('env_file', type=Path, help='where to write the variables (mode 0600)')
    pins = sub.add_parser('pins')
    pins.add_argument('wheel_dir', type=Path)
    args = parser.parse_args(argv)

    if args.command == 'version':
        lines = [setup_kwargs()['version']]
    elif args.command == 'requirements':
        lines = requirements(args.extra, args.extras_only)
    elif args.command == 'pip-docker-args':
        lines = pip_docker_args(args.env_file)
    elif args.command == 'pip-service-args':
        lines = pip_service_args(args.env_file)
    else:
        lines = wheel_pins(args.wheel_dir)
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    sys.exit(main())
