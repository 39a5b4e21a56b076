"""Inspect an uploaded model template without importing it into the calling process.

Command line (the short-lived process that does import it)::

    python -m singa.model.inspect FILE CLASS [--kind py|zip] [--module-file NAME] [--max-memory-mb N]

prints exactly one JSON line on stdout: ``{"ok": true, "knob_config": <serialized>, "task_hint": null}``
or ``{"ok": false, "error": "<reason>"}``; anything the template prints goes to stderr.

``check_model_template(...)`` is what the admin calls: it runs that command on the bytes in a
sandbox with a time limit and a memory limit. Two sandboxes (``make_sandbox(settings)`` picks):
``ProcessSandbox``, a subprocess in a private temporary directory with a scrubbed environment (no
``SINGA_*`` variables, ``HOME`` = that directory); and, with Docker, ``DockerSandbox``
(``singa.container.docker_swarm``), a throwaway container of the worker image (or the template's
own) with no network, a read-only root file system, no capabilities, a non-root user, and memory,
CPU and process limits, which also keeps the template's packages out of the admin's image.
"""
import argparse
import dataclasses
import inspect as pyinspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Mapping, Optional, Sequence

from singa.errors import ConfigError, InvalidKnobError, InvalidModelError

DEFAULT_MEMORY_MB = 4096
_PASSED_ENV = ('PATH', 'LANG', 'LC_ALL', 'PIP_FIND_LINKS')


def validate_model_class(cls) -> dict:
    """Check a template class and return its serialized knob config (``InvalidModelError`` if bad)."""
    from singa.model.knob import deserialize_knob_config, serialize_knob_config
    from singa.model.model import BaseModel

    if not isinstance(cls, type) or not issubclass(cls, BaseModel):
        raise InvalidModelError(f'{getattr(cls, "__name__", cls)!r} is not a BaseModel subclass')
    if not isinstance(pyinspect.getattr_static(cls, 'get_knob_config'), staticmethod):
        raise InvalidModelError(f'{cls.__name__}.get_knob_config must be a @staticmethod')
    missing = sorted(getattr(cls, '__abstractmethods__', ()))
    if missing:
        raise InvalidModelError(f'{cls.__name__} does not implement: {", ".join(missing)}')
    try:
        config = cls.get_knob_config()
        serialized = serialize_knob_config(config)
        if deserialize_knob_config(json.loads(json.dumps(serialized))) != config:
            raise InvalidKnobError('the knob config does not survive its JSON codec')
    except InvalidKnobError as e:
        raise InvalidModelError(f'bad knob config: {e.message}') from e
    except Exception as e:
        raise InvalidModelError(f'bad knob config: get_knob_config raised {type(e).__name__}: {e}') from e
    return serialized


def inspect_template(file_path: str, class_name: str, file_kind: str = 'py',
                     module_file: Optional[str] = None) -> dict:
    """Import the template here (only in a throwaway process!) and describe it as a JSON-able dict."""
    from singa.model.loader import load_model_class
    try:
        cls = load_model_class(file_path, class_name, file_kind, module_file)
        return {'ok': True, 'knob_config': validate_model_class(cls), 'task_hint': None}
    except InvalidModelError as e:
        return {'ok': False, 'error': e.message}


@dataclasses.dataclass(frozen=True)
class SandboxRun:
    """What a sandboxed ``python ARGV`` did: its exit code (``None``: killed at the time limit),
    its output, and whether it was killed for using too much memory."""
    exit_code: Optional[int]
    stdout: bytes
    stderr: bytes
    out_of_memory: bool = False


class ProcessSandbox:
    """Runs ``python ARGV`` with this interpreter as a local subprocess (its own session), in a
    private temporary directory that holds ``files`` and is also its ``HOME``, with a scrubbed
    environment (no ``SINGA_*`` variables) and a time limit. The memory limit is the command's own
    business (``--max-memory-mb``). ``image`` is ignored."""

    def run(self, argv: Sequence[str], files: Mapping[str, bytes], timeout: float, memory_mb: int,
            image: Optional[str] = None) -> SandboxRun:
        workdir = tempfile.mkdtemp(prefix='singa-inspect-')
        try:
            for name, data in files.items():
                with open(os.path.join(workdir, name), 'wb') as f:
                    f.write(data)
            proc = subprocess.Popen([sys.executable, *argv], cwd=workdir, env=_scrubbed_env(workdir),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
            try:
                out, err = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return SandboxRun(None, b'', b'')
            return SandboxRun(proc.returncode, out, err)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def make_sandbox(settings):
    """The sandbox ``settings.model_check_sandbox`` names: ``process``, ``container`` (a throwaway
    Docker container, ``singa.container.docker_swarm.DockerSandbox``) or ``auto`` (a container
    with the Swarm container manager, a process otherwise)."""
    kind = settings.model_check_sandbox
    if kind == 'auto':
        kind = 'container' if settings.container_manager == 'swarm' else 'process'
    if kind == 'process':
        return ProcessSandbox()
    if kind == 'container':
        from singa.container.docker_swarm import DockerSandbox
        return DockerSandbox(settings)
    raise ConfigError(f'SINGA_MODEL_CHECK_SANDBOX must be one of auto, process, container; got {kind!r}')


def check_model_template(file_bytes: bytes, class_name: str, file_kind: str = 'py',
                         module_file: Optional[str] = None, timeout: float = 30.0,
                         memory_mb: int = DEFAULT_MEMORY_MB, sandbox=None, image: Optional[str] = None) -> dict:
    """Inspect uploaded template bytes in a sandbox; return the serialized knob config.

    ``sandbox`` (default a ``ProcessSandbox``) runs ``python -m singa.model.inspect`` on the file;
    ``image`` is the container image to do it in, for sandboxes that use one (default theirs).
    Raises ``InvalidModelError`` with the reason (bad template, timeout, crash, out of memory).
    """
    if file_kind not in ('py', 'zip'):
        raise InvalidModelError(f'model file kind must be py or zip; got {file_kind!r}')
    name = 'template.' + file_kind
    argv = ['-m', 'singa.model.inspect', name, class_name, '--kind', file_kind,
            '--max-memory-mb', str(int(memory_mb))]
    if module_file:
        argv += ['--module-file', module_file]
    run = (sandbox or ProcessSandbox()).run(argv, {name: file_bytes}, timeout, memory_mb, image)
    if run.exit_code is None:
        raise InvalidModelError(f'inspecting the model timed out after {timeout:g} s')
    if run.out_of_memory:
        raise InvalidModelError(f'the model file needs more than {memory_mb} MB to import')
    result = _last_json_line(run.stdout)
    if result is None:
        tail = run.stderr.decode('utf-8', 'replace').strip().splitlines()[-3:]
        raise InvalidModelError(f'inspecting the model failed (exit code {run.exit_code})'
                                + (': ' + ' | '.join(tail) if tail else ''))
    if not result.get('ok'):
        raise InvalidModelError(str(result.get('error') or 'invalid model template'))
    return result['knob_config']


def _scrubbed_env(home: str) -> dict:
    import singa
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.setdefault('PATH', '/usr/bin:/bin')
    env.update({'HOME': home, 'TMPDIR': home, 'PYTHONDONTWRITEBYTECODE': '1',
                'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1',
                'PYTHONPATH': os.path.dirname(os.path.dirname(os.path.abspath(singa.__file__)))})
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate()


def _last_json_line(out: bytes) -> Optional[dict]:
    for line in reversed(out.decode('utf-8', 'replace').splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and 'ok' in value:
            return value
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='python -m singa.model.inspect', description=__doc__.split('\n')[0])
    parser.add_argument('file_path')
    parser.add_argument('class_name')
    parser.add_argument('--kind', default='py', choices=('py', 'zip'))
    parser.add_argument('--module-file', default=None)
    parser.add_argument('--max-memory-mb', type=int, default=0, help='address-space limit (0 = none)')
    args = parser.parse_args(argv)
    if args.max_memory_mb > 0:
        import resource
        limit = args.max_memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # Keep stdout for our one JSON line: whatever the template prints goes to stderr.
    result_out = os.fdopen(os.dup(1), 'w')
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        result = inspect_template(args.file_path, args.class_name, args.kind, args.module_file)
    except MemoryError:
        result = {'ok': False, 'error': f'the model file needs more than {args.max_memory_mb} MB to import'}
    result_out.write(json.dumps(result) + '\n')
    result_out.flush()
    return 0 if result['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
