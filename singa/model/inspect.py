"""Check an uploaded model template without importing it into the calling process.

``inspect_model_template(...)`` is what the admin calls (``check_model_template``: only the knob
config). The template is imported in a sandbox, never here, with a time limit, a memory limit and
bounded output, and what the sandbox answers is treated as untrusted data: the knob config must
decode with the knob codec and come back the same (``checked_knob_config``), so a template that
lies about itself can only break its own use. Two kinds of check (``make_check_sandbox(settings)``
picks, by ``SINGA_MODEL_CHECK_SANDBOX``):

- ``RunnerCheck``: the template in a child of a ``singa.sandbox`` sandbox (bubblewrap's
  namespaces in process mode), driven over its pipes like a worker drives it;
- ``DockerSandbox`` (``singa.container.docker_swarm``): ``python -m singa.model.inspect`` in a
  throwaway container of the worker image (or the template's own): no network, a read-only root
  file system, no capabilities, a non-root user, memory, CPU and process limits; it also keeps the
  template's packages out of the admin's image.

A template with an environment (``singa.envs``: the packages its dependencies add) is checked
with it on its path, read-only, after the platform's packages: bound in the process sandbox,
copied into the container.

Command line (what the container runs)::

    python -m singa.model.inspect FILE CLASS [--kind py|zip] [--module-file NAME] [--max-memory-mb N] [--site DIR]...

prints exactly one JSON line on stdout: ``{"ok": true, "knob_config": <serialized>, "task_hint": null,
"score_counts_examples": true}`` or ``{"ok": false, "error": "<reason>"}``; anything the template
prints goes to stderr.

Besides its knobs, a check reports what the template declares of itself (``declarations``: today
``BaseModel.score_counts_examples``), untrusted like the rest: ``checked_template`` takes only a
true or false.
"""
import argparse
import collections
import inspect as pyinspect
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Optional

from singa.errors import ConfigError, InvalidKnobError, InvalidModelError

DEFAULT_MEMORY_MB = 2048


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


def declarations(cls) -> dict:
    """What a template class declares of itself besides its knobs, as JSON (``InvalidModelError``
    if a declaration is malformed): ``score_counts_examples`` (see ``BaseModel``)."""
    counts = getattr(cls, 'score_counts_examples', True)
    if not isinstance(counts, bool):
        raise InvalidModelError(f'{cls.__name__}.score_counts_examples must be True or False; got {counts!r}')
    return {'score_counts_examples': counts}


def inspect_template(file_path: str, class_name: str, file_kind: str = 'py',
                     module_file: Optional[str] = None) -> dict:
    """Import the template here (only in a throwaway process!) and describe it as a JSON-able dict."""
    from singa.model.loader import load_model_class
    try:
        cls = load_model_class(file_path, class_name, file_kind, module_file)
        return {'ok': True, 'knob_config': validate_model_class(cls), 'task_hint': None, **declarations(cls)}
    except InvalidModelError as e:
        return {'ok': False, 'error': e.message}


MAX_KNOB_CONFIG_BYTES = 1 << 20
CHECK_MAX_PIDS = 64
CHECK_TMP_MB = 1024
CHECK_OUTPUT_BYTES = 64 << 10


class RunnerCheck:
    """The check in a ``singa.sandbox`` child: load the template, ask for its knob config."""

    def __init__(self, sandbox):
        self.sandbox = sandbox

    def check(self, file_bytes: bytes, class_name: str, file_kind: str, module_file: Optional[str],
              timeout: float, memory_mb: int, image: Optional[str] = None, env=None):
        from singa.sandbox import ModelRunner, SandboxFailed, SandboxLimits, TemplateSource
        limits = SandboxLimits(memory_mb=memory_mb, max_pids=CHECK_MAX_PIDS, tmp_mb=CHECK_TMP_MB,
                               cpu_seconds=int(timeout) + 1, threads=1)
        output = collections.deque(maxlen=3)
        runner = ModelRunner(self.sandbox, limits, on_output=output.append, max_output_bytes=CHECK_OUTPUT_BYTES,
                             env=env)
        deadline = time.monotonic() + timeout
        try:
            runner.load_template_bytes(TemplateSource('<upload>', class_name, file_kind, module_file), file_bytes,
                                       timeout=timeout)
            return runner.inspect(timeout=max(deadline - time.monotonic(), 0.1))
        except SandboxFailed as e:
            if e.details.get('out_of_memory'):
                raise InvalidModelError(f'the template check used more than {memory_mb} MiB of memory') from None
            if e.details.get('killed'):
                raise InvalidModelError(f'inspecting the model timed out after {timeout:g} s') from None
            tail = ' | '.join(line.strip() for line in output if line.strip())
            raise InvalidModelError(f'inspecting the model failed: {e.message}' + (f': {tail}' if tail else '')) \
                from None
        except InvalidModelError as e:
            if e.message.startswith('MemoryError'):
                raise InvalidModelError(f'the template check used more than {memory_mb} MiB of memory') from None
            raise
        finally:
            runner.close()


def make_check_sandbox(settings):
    """The check ``settings.model_check_sandbox`` names: ``process`` (a ``RunnerCheck`` in this
    machine's sandbox, ``singa.sandbox.make_sandbox``), ``container`` (a throwaway Docker
    container) or ``auto`` (a container with the Swarm container manager, a process otherwise)."""
    kind = settings.model_check_sandbox
    if kind == 'auto':
        kind = 'container' if settings.container_manager == 'swarm' else 'process'
    if kind == 'process':
        from singa.sandbox import make_sandbox
        return RunnerCheck(make_sandbox(settings))
    if kind == 'container':
        from singa.container.docker_swarm import DockerSandbox
        return DockerSandbox(settings)
    raise ConfigError(f'SINGA_MODEL_CHECK_SANDBOX must be one of auto, process, container; got {kind!r}')


def default_check_sandbox() -> RunnerCheck:
    """For callers without settings (tests, the local harness): bubblewrap where it works."""
    from singa.sandbox import bubblewrap_works
    from singa.sandbox.container import UnsandboxedProcess
    if bubblewrap_works():
        from singa.sandbox.bubblewrap import BubblewrapSandbox
        return RunnerCheck(BubblewrapSandbox())
    return RunnerCheck(UnsandboxedProcess())


@dataclass(frozen=True)
class CheckedTemplate:
    """What the check of an uploaded template found: its serialized knob config and its declarations."""
    knob_config: dict
    score_counts_examples: bool = True


def check_model_template(file_bytes: bytes, class_name: str, file_kind: str = 'py',
                         module_file: Optional[str] = None, timeout: float = 30.0,
                         memory_mb: int = DEFAULT_MEMORY_MB, sandbox=None, image: Optional[str] = None,
                         env=None) -> dict:
    """The serialized knob config of uploaded template bytes (``inspect_model_template``'s)."""
    return inspect_model_template(file_bytes, class_name, file_kind, module_file, timeout, memory_mb, sandbox,
                                  image, env).knob_config


def inspect_model_template(file_bytes: bytes, class_name: str, file_kind: str = 'py',
                           module_file: Optional[str] = None, timeout: float = 30.0,
                           memory_mb: int = DEFAULT_MEMORY_MB, sandbox=None, image: Optional[str] = None,
                           env=None) -> CheckedTemplate:
    """Inspect uploaded template bytes in a sandbox; return its knob config and declarations.

    ``sandbox``: a ``RunnerCheck`` or a ``DockerSandbox`` (default: ``default_check_sandbox()``);
    ``image`` is the container image to check it in, for sandboxes that use one; ``env`` the
    template's environment (``singa.envs.TemplateEnv``), if it has one. Raises
    ``InvalidModelError`` with the reason (bad template, time limit, memory limit, crash, or an
    answer that is not a valid knob config).
    """
    if file_kind not in ('py', 'zip'):
        raise InvalidModelError(f'model file kind must be py or zip; got {file_kind!r}')
    if isinstance(class_name, str) is False or not class_name.isidentifier():
        raise InvalidModelError(f'model class must be a Python identifier; got {class_name!r}')
    sandbox = sandbox or default_check_sandbox()
    if isinstance(sandbox, RunnerCheck):
        answer = sandbox.check(file_bytes, class_name, file_kind, module_file, timeout, memory_mb, image, env)
    else:
        answer = _check_in_container(sandbox, file_bytes, class_name, file_kind, module_file, timeout,
                                     memory_mb, image, env)
    return checked_template(answer)


def checked_template(answer) -> CheckedTemplate:
    """What a sandbox reported (``{"knob_config": ..., <declarations>}``), if it is valid: a knob
    config ``checked_knob_config`` accepts, and declarations of the right types (absent: the
    defaults, as from a worker image older than the declaration). ``InvalidModelError`` otherwise."""
    if not isinstance(answer, dict):
        raise InvalidModelError('the template check answered something that is not a description of a template')
    counts = answer.get('score_counts_examples', True)
    if not isinstance(counts, bool):
        raise InvalidModelError('the template check answered a score_counts_examples that is not true or false')
    return CheckedTemplate(checked_knob_config(answer.get('knob_config')), counts)


def checked_knob_config(answer) -> dict:
    """The knob config a sandbox reported, if it is one: JSON of bounded size that decodes with
    the knob codec and encodes back the same. ``InvalidModelError`` otherwise."""
    from singa.model.knob import deserialize_knob_config, serialize_knob_config
    try:
        text = json.dumps(answer, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidModelError('the template check answered something that is not JSON') from None
    if len(text) > MAX_KNOB_CONFIG_BYTES:
        raise InvalidModelError(f'the knob config is over {MAX_KNOB_CONFIG_BYTES} bytes')
    try:
        canonical = serialize_knob_config(deserialize_knob_config(json.loads(text)))
    except InvalidKnobError as e:
        raise InvalidModelError(f'bad knob config: {e.message}') from None
    except Exception as e:  # noqa: BLE001 - whatever a malformed answer makes the codec raise
        raise InvalidModelError(f'bad knob config: {type(e).__name__}: {e}') from None
    if json.loads(json.dumps(canonical)) != json.loads(text):
        raise InvalidModelError('bad knob config: it does not survive its JSON codec')
    return canonical


def _check_in_container(sandbox, file_bytes, class_name, file_kind, module_file, timeout, memory_mb, image, env):
    name = 'template.' + file_kind
    argv = ['-m', 'singa.model.inspect', name, class_name, '--kind', file_kind,
            '--max-memory-mb', str(int(memory_mb))]
    if module_file:
        argv += ['--module-file', module_file]
    dirs = {}
    if env is not None:
        dirs['env'] = env.path
        for site in env.sites:
            argv += ['--site', f'{sandbox.WORKDIR}/env/{site}']
    run = sandbox.run(argv, {name: file_bytes}, timeout, memory_mb, image, dirs=dirs)
    if run.exit_code is None:
        raise InvalidModelError(f'inspecting the model timed out after {timeout:g} s')
    if run.out_of_memory:
        raise InvalidModelError(f'the template check used more than {memory_mb} MiB of memory')
    result = _last_json_line(run.stdout[-CHECK_OUTPUT_BYTES:])
    if result is None:
        tail = run.stderr[-CHECK_OUTPUT_BYTES:].decode('utf-8', 'replace').strip().splitlines()[-3:]
        raise InvalidModelError(f'inspecting the model failed (exit code {run.exit_code})'
                                + (': ' + ' | '.join(tail) if tail else ''))
    if not result.get('ok'):
        raise InvalidModelError(str(result.get('error') or 'invalid model template')[:4000])
    return result


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
    parser.add_argument('--site', action='append', default=[], help='a site directory of the template\'s '
                        'environment, put on the path after the platform\'s packages')
    args = parser.parse_args(argv)
    if args.max_memory_mb > 0:
        import resource
        limit = args.max_memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from singa.sandbox.child import add_sites
    add_sites(args.site)
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
