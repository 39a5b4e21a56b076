"""Inspect an uploaded model template without importing it into the calling process.

Command line (the short-lived process that does import it)::

    python -m singa.model.inspect FILE CLASS [--kind py|zip] [--module-file NAME] [--max-memory-mb N]

prints exactly one JSON line on stdout: ``{"ok": true, "knob_config": <serialized>, "task_hint": null}``
or ``{"ok": false, "error": "<reason>"}``; anything the template prints goes to stderr.

``check_model_template(...)`` is what the admin calls: it writes the bytes to a private temporary
directory and runs that command in a subprocess with a scrubbed environment (no ``SINGA_*``
variables, ``HOME`` = the temporary directory), a time limit and a memory limit.
"""
import argparse
import inspect as pyinspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Optional

from singa.errors import InvalidKnobError, InvalidModelError

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


def check_model_template(file_bytes: bytes, class_name: str, file_kind: str = 'py',
                         module_file: Optional[str] = None, timeout: float = 30.0,
                         memory_mb: int = DEFAULT_MEMORY_MB) -> dict:
    """Inspect uploaded template bytes in a sandboxed subprocess; return the serialized knob config.

    Raises ``InvalidModelError`` with the reason (bad template, timeout, crash).
    """
    if file_kind not in ('py', 'zip'):
        raise InvalidModelError(f'model file kind must be py or zip; got {file_kind!r}')
    workdir = tempfile.mkdtemp(prefix='singa-inspect-')
    try:
        path = os.path.join(workdir, 'template.' + file_kind)
        with open(path, 'wb') as f:
            f.write(file_bytes)
        cmd = [sys.executable, '-m', 'singa.model.inspect', path, class_name, '--kind', file_kind,
               '--max-memory-mb', str(int(memory_mb))]
        if module_file:
            cmd += ['--module-file', module_file]
        proc = subprocess.Popen(cmd, cwd=workdir, env=_scrubbed_env(workdir), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise InvalidModelError(f'inspecting the model timed out after {timeout:g} s') from None
        result = _last_json_line(out)
        if result is None:
            tail = err.decode('utf-8', 'replace').strip().splitlines()[-3:]
            raise InvalidModelError(f'inspecting the model failed (exit code {proc.returncode})'
                                    + (': ' + ' | '.join(tail) if tail else ''))
        if not result.get('ok'):
            raise InvalidModelError(str(result.get('error') or 'invalid model template'))
        return result['knob_config']
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
