"""``ModelRunner``: the trusted side that drives model code in a sandboxed child.

A worker (or the admin's template check) holds its credentials and talks to Redis itself; the
model code runs in a child started by a ``BaseSandbox`` and is reached only over two pipes
(``singa.sandbox.protocol``). The runner:

- starts the child on first use, and again after it was killed or died;
- sends it the template's bytes, after checking them against the SHA-256 recorded at upload
  (``TemplateSource.read_verified``), so a file changed on storage is refused;
- treats every answer as untrusted data: frames are capped and checked, scores must be finite
  numbers, parameters must decode with the parameter codec, log lines are capped per trial;
- turns the child's stdout and stderr into log lines (capped too), and kills the child at a
  deadline, on request from another thread (a cancelled trial, a stop), or when it breaks the
  protocol. A killed child costs the operation under way, never the runner.
"""
import dataclasses
import hashlib
import logging
import os
import threading
from typing import Callable, Mapping, Optional

from singa.errors import InvalidModelError, ModelRuntimeError
from singa.sandbox.base import BaseSandbox, SandboxLimits, SandboxedProcess
from singa.sandbox.protocol import ProtocolError, read_frame, write_frame

log = logging.getLogger(__name__)

OutputHandler = Callable[[str], None]
MAX_OUTPUT_BYTES = 1 << 20          # of stdout/stderr per trial (or per check)
MAX_LINE_CHARS = 4000


class SandboxFailed(ModelRuntimeError):
    """The child died, was killed, or broke the protocol during an operation."""


@dataclasses.dataclass(frozen=True)
class TemplateSource:
    """A stored template file and what it must be."""
    path: str
    class_name: str
    kind: str = 'py'
    module_file: Optional[str] = None
    sha256: Optional[str] = None

    def read_verified(self, max_bytes: int = 1 << 30) -> bytes:
        """The file's bytes; ``InvalidModelError`` if it is missing, too big, or its SHA-256
        differs from the one recorded at upload."""
        try:
            with open(self.path, 'rb') as f:
                data = f.read(max_bytes + 1)
        except OSError as e:
            raise InvalidModelError(f'the template file cannot be read: {e.strerror}') from None
        if len(data) > max_bytes:
            raise InvalidModelError(f'the template file is over {max_bytes} bytes')
        if self.sha256 is not None and hashlib.sha256(data).hexdigest() != self.sha256:
            raise InvalidModelError('the stored template file differs from the one uploaded (its SHA-256 does '
                                    'not match): refusing to run it')
        return data


@dataclasses.dataclass
class TrialOutcome:
    status: str
    score: Optional[float]
    params: Optional[bytes]
    error: Optional[str]
    metrics: dict = dataclasses.field(default_factory=dict)   # named metrics (``singa.objectives``)


class OutputPump(threading.Thread):
    """Reads the child's stdout/stderr and hands complete lines to ``handler`` until the budget of
    bytes is spent (one note says so); the rest is read and dropped, so the child never blocks."""

    def __init__(self, fd: int, handler: OutputHandler, budget: int):
        super().__init__(name='sandbox-output', daemon=True)
        self.fd, self.handler, self.budget = fd, handler, budget
        self._lock = threading.Lock()
        self.left = budget

    def reset(self) -> None:
        with self._lock:
            self.left = self.budget

    def run(self) -> None:
        pending = b''
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b'\n')
            if len(pending) > MAX_LINE_CHARS:
                lines.append(pending)
                pending = b''
            for line in lines:
                self._emit(line)
        if pending:
            self._emit(pending)

    def _emit(self, raw: bytes) -> None:
        with self._lock:
            if self.left <= 0:
                return
            self.left -= len(raw) + 1
            spent = self.left <= 0
        text = raw.decode('utf-8', 'replace')[:MAX_LINE_CHARS]
        try:
            self.handler(text)
            if spent:
                self.handler(f'[output over {self.budget} bytes: the rest is not kept]')
        except Exception:  # noqa: BLE001 - a log handler must not stop the pump
            log.exception('output handler failed')


class ModelRunner:
    """Drives one template in one sandboxed child at a time (one operation at a time)."""

    def __init__(self, sandbox: BaseSandbox, limits: SandboxLimits, binds: Mapping[str, str] = (),
                 on_output: Optional[OutputHandler] = None, max_output_bytes: int = MAX_OUTPUT_BYTES, env=None):
        """``env``: the template's environment (``singa.envs.TemplateEnv``), if it has one."""
        self.sandbox, self.limits, self.binds, self.env = sandbox, limits, dict(binds or {}), env
        self.on_output = on_output or (lambda line: log.info('model: %s', line))
        self.max_output_bytes = max_output_bytes
        self.process: Optional[SandboxedProcess] = None
        self.pump: Optional[OutputPump] = None
        self.template: Optional[TemplateSource] = None
        self._template_bytes: Optional[bytes] = None
        self._serving: Optional[tuple] = None      # (knobs, params) a new child must load again
        self.load_timeout: Optional[float] = None
        self._kill_reason: Optional[str] = None
        self._lock = threading.RLock()      # kill() may run in a signal handler of the calling thread

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start a child (if none runs) and load the template into it (if one was given)."""
        if self.process is not None and self.process.alive():
            return
        self.close()
        with self._lock:
            self._kill_reason = None
            self.process = self.sandbox.spawn(self.limits, self.binds, self.env)
        self.pump = OutputPump(self.process.output, self._output, self.max_output_bytes)
        self.pump.start()
        if self._template_bytes is not None:
            self._load(self._template_bytes)
            if self._serving is not None:
                self._serve(*self._serving)

    def load_template(self, template: TemplateSource, max_bytes: int = 1 << 30,
                      timeout: Optional[float] = None) -> None:
        """Check the template's bytes and import it in the child (within ``timeout`` seconds,
        then and whenever a new child replaces this one); ``InvalidModelError`` if the file was
        tampered with or does not load."""
        data = template.read_verified(max_bytes)
        self.load_template_bytes(template, data, timeout)

    def load_template_bytes(self, template: TemplateSource, data: bytes, timeout: Optional[float] = None) -> None:
        self.template, self._template_bytes, self.load_timeout = template, data, timeout
        self.close()
        self.start()

    def _load(self, data: bytes) -> None:
        answer, _ = self.call({'op': 'load', 'kind': self.template.kind, 'class_name': self.template.class_name,
                               'module_file': self.template.module_file}, data, timeout=self.load_timeout)
        if not answer.get('ok'):
            raise InvalidModelError(_text(answer.get('error'), 'the template does not load'))

    def kill(self, reason: str) -> None:
        """End the child now (from any thread); the operation under way fails with ``reason``."""
        with self._lock:
            if self.process is not None:
                self._kill_reason = self._kill_reason or reason
                self.process.kill()

    def close(self) -> None:
        """Kill the child (if any) and release it."""
        with self._lock:
            process, self.process = self.process, None
        if process is not None:
            process.close()
        if self.pump is not None:
            self.pump.join(timeout=2)
            self.pump = None

    def teardown(self) -> None:
        """Let the template clean up (``destroy``, ``teardown``) before the child goes."""
        if self.process is not None and self.process.alive():
            try:
                self.call({'op': 'teardown'}, timeout=10)
            except SandboxFailed as e:
                log.warning('teardown: %s', e.message)
        self.close()

    # -- operations --------------------------------------------------------------------------
    def call(self, header: dict, payload: Optional[bytes] = None,
             on_event: Optional[Callable[[dict], Optional[dict]]] = None,
             timeout: Optional[float] = None) -> tuple[dict, Optional[bytes]]:
        """Send one operation and return its answer ``(header, payload)``. Events before the
        answer go to ``on_event``, whose return value (if any) is sent back as a reply.
        ``SandboxFailed`` if the child dies, is killed, breaks the protocol or runs past
        ``timeout`` seconds; the child is then gone and the next operation starts a new one."""
        self.start()
        process = self.process
        timer = threading.Timer(timeout, self.kill, args=(f'it ran longer than {timeout:g} s',)) \
            if timeout else None
        try:
            if timer:
                timer.daemon = True
                timer.start()
            write_frame(process.to_child, header, payload)
            while True:
                answer, data = read_frame(process.from_child)
                if answer.get('done'):
                    return answer, data
                if on_event is not None:
                    reply = on_event(answer)
                    if reply is not None:
                        write_frame(process.to_child, reply)
        except ProtocolError as e:
            raise self._failure(process, e) from None
        except BaseException:
            # The caller's side failed mid-operation: the child's state is unknown, so it goes.
            self._close_process(process)
            raise
        finally:
            if timer:
                timer.cancel()

    def _failure(self, process: SandboxedProcess, error: ProtocolError) -> SandboxFailed:
        """What went wrong with a child that stopped answering, after ending it."""
        with self._lock:
            reason = self._kill_reason
        process.kill()
        out_of_memory = process.out_of_memory()
        code = self._close_process(process)
        if out_of_memory:
            message = f'the model code used more than {self.limits.memory_mb} MiB of memory and was killed'
        elif reason:
            message = f'the model code was stopped: {reason}'
        elif code is not None and code < 0:
            message = f'the model code was killed by signal {-code}'
        elif code is not None:
            message = f'the model code exited with code {code}'
        else:
            message = f'the model code broke the protocol: {error}'
        return SandboxFailed(message, details={'exit_code': code, 'out_of_memory': out_of_memory,
                                               'killed': bool(reason)})

    def _close_process(self, process: SandboxedProcess) -> Optional[int]:
        with self._lock:
            if self.process is process:
                self.process = None
        code = process.close()
        if self.pump is not None:
            self.pump.join(timeout=2)
            self.pump = None
        return code

    def inspect(self, timeout: Optional[float] = None) -> dict:
        """The loaded class's serialised knob config and declarations (``singa.model.inspect``), as
        the child reported them (unchecked: ``checked_template`` checks them)."""
        answer, _ = self.call({'op': 'inspect'}, timeout=timeout)
        if not answer.get('ok'):
            raise InvalidModelError(_text(answer.get('error'), 'the template is not a valid model class'))
        return {k: v for k, v in answer.items() if k not in ('ok', 'done')}

    def train(self, knobs: dict, train_path: str, val_path: str, train_args: dict, save_params: bool,
              shared_params: Optional[bytes], on_line: Callable[[dict], None],
              on_report: Callable[[int, float], bool], task: Optional[str] = None) -> TrialOutcome:
        """Run one trial. The child's log lines and reports reach ``on_line`` and ``on_report``
        (which answers whether to prune); a failure of the child is an ERRORED (or, if killed
        on request, STOPPED) outcome, not an exception. The parameters come back encoded and
        unchecked: store them with ``BaseParamStore.save_encoded``, which decodes them first.
        With ``task``, the child also times the trained model's predict on queries of the
        validation set (``predict_latency_ms`` among the outcome's metrics)."""
        from singa.objectives import clean_metrics
        from singa.constants import TrialStatus
        from singa.sandbox.protocol import finite_number

        def on_event(event: dict) -> Optional[dict]:
            if event.get('event') == 'log' and isinstance(event.get('line'), dict):
                on_line(event['line'])
            elif event.get('event') == 'report':
                step, score = event.get('step'), finite_number(event.get('score'))
                if isinstance(step, int) and not isinstance(step, bool) and score is not None:
                    return {'op': 'report_reply', 'prune': bool(on_report(step, score))}
                return {'op': 'report_reply', 'prune': False}
            return None

        if self.pump is not None:
            self.pump.reset()
        try:
            answer, params = self.call({'op': 'train', 'knobs': knobs, 'train_path': train_path,
                                        'val_path': val_path, 'train_args': train_args,
                                        'save_params': save_params, 'task': task}, shared_params, on_event)
        except SandboxFailed as e:
            status = TrialStatus.STOPPED.value if e.details.get('killed') else TrialStatus.ERRORED.value
            return TrialOutcome(status, None, None, e.message)
        finally:
            self._kill_strays()
        status = answer.get('status')
        if status not in (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.ERRORED):
            return TrialOutcome(TrialStatus.ERRORED.value, None, None, f'the model code answered status {status!r}')
        error = _text(answer.get('error'), None)
        if status != TrialStatus.COMPLETED:
            return TrialOutcome(status, None, None, error)
        score = finite_number(answer.get('score'))
        if score is None:
            return TrialOutcome(TrialStatus.ERRORED.value, None, None, 'the trial reported no finite score')
        if save_params and params is None:
            return TrialOutcome(TrialStatus.ERRORED.value, None, None, 'the trial sent no parameters')
        # The parameter store decodes the blob before it keeps it (``save_encoded``).
        return TrialOutcome(status, score, params if save_params else None, None, clean_metrics(answer.get('metrics')))

    def serve(self, knobs: dict, params: bytes, timeout: Optional[float] = None) -> None:
        """Build the instance that ``predict`` uses (knobs and trained parameters); a child that
        replaces this one later loads them again."""
        self._serve(knobs, params, timeout)
        self._serving = (knobs, params, timeout)

    def _serve(self, knobs: dict, params: bytes, timeout: Optional[float]) -> None:
        answer, _ = self.call({'op': 'serve', 'knobs': knobs}, params, timeout=timeout)
        if not answer.get('ok'):
            raise ModelRuntimeError(_text(answer.get('error'), 'the model does not load its parameters'))

    def predict(self, queries: list, timeout: Optional[float] = None) -> tuple[list, dict]:
        """(predictions, {query index: error}) for ``queries``; ``SandboxFailed`` if the child
        dies or takes longer than ``timeout``."""
        answer, _ = self.call({'op': 'predict', 'queries': queries}, timeout=timeout)
        if not answer.get('ok'):
            message = _text(answer.get('error'), 'predict failed')
            return [None] * len(queries), {str(i): message for i in range(len(queries))}
        predictions, errors = answer.get('predictions'), answer.get('errors')
        if not isinstance(predictions, list) or len(predictions) != len(queries) or not isinstance(errors, dict):
            raise SandboxFailed('the model code answered a prediction of the wrong shape')
        clean_errors = {}
        for key, value in errors.items():
            if isinstance(key, str) and key.isdigit() and int(key) < len(queries):
                clean_errors[key] = _text(value, 'failed')[:500]
        return predictions, clean_errors

    # -- helpers -----------------------------------------------------------------------------
    def _output(self, line: str) -> None:
        self.on_output(line)

    def _kill_strays(self) -> None:
        process = self.process
        if process is not None and process.alive():
            killed = process.kill_strays()
            if killed:
                self._output(f'[{killed} process(es) the trial left running were killed]')


def _text(value, default: Optional[str]) -> Optional[str]:
    return value if isinstance(value, str) and value else default
