"""The train worker: runs trials of one template for its sub-job's advisor. It never imports the
template: a ``ModelRunner`` drives it in a sandboxed child (``singa.sandbox``).

The worker holds a Redis user scoped to its job and the shared storage; it never sees the
database, and the child sees neither: only the template's bytes (checked against the SHA-256
recorded at upload), the job's two dataset files, read-only, and a private temporary directory.
Per trial: ask the advisor for knobs (handing in the previous trial's result in the same round
trip), run the trial in the child, store the parameters it sends back (after decoding them),
report. While the trial runs a heartbeat thread renews its lease and ships log lines in batches;
when the lease turns out to be gone (the advisor cancelled the trial, or presumed this worker
dead) or the worker is told to stop, the child is killed and the trial ends STOPPED; the next
trial gets a new child. A template that raises, or a child that dies, costs only its trial.
"""
import datetime
import logging
import os
import threading
from typing import Optional

from singa.constants import TrialStatus
from singa.errors import SingaError
from singa.param_store import make_param_store, param_scope
from singa.queues import TuningChannel, new_worker_id
from singa.sandbox import ModelRunner, TemplateSource, make_sandbox, worker_limits
from singa.workers.loop import Ticker

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0
JOB_DIR = '/job'


class LogBuffer:
    """Log lines of the running trial, shipped in batches (thread-safe)."""

    def __init__(self):
        self._lines: list[dict] = []
        self._lock = threading.Lock()

    def add(self, line: dict) -> None:
        line.setdefault('time', _now())
        with self._lock:
            self._lines.append(line)

    def take(self) -> list[dict]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines


class TrainWorker:
    def __init__(self, settings, redis_client, stop, replica: int = 0, sandbox=None):
        self.settings = settings
        self.stop = stop
        self.channel = TuningChannel(redis_client, settings.job_id, settings.sub_job_id)
        self.worker_id = new_worker_id(settings.service_id, replica)
        self.param_store = make_param_store(settings)
        self.sandbox = sandbox or make_sandbox(settings)
        self.runner: Optional[ModelRunner] = None
        self.load_error: Optional[str] = None
        self.lease_lost = threading.Event()
        self.buffer: Optional[LogBuffer] = None

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        job = self._call({'type': 'hello'})
        if job is None or job.get('type') != 'job':
            return 0
        self.job = job
        self._prepare(job)
        finished: Optional[dict] = None
        try:
            while not self.stop.is_set():
                reply = self._call({'type': 'propose', 'finished': finished})
                if reply is None:
                    break
                finished = None
                kind = reply.get('type')
                if kind == 'trial':
                    finished = self.run_trial(reply)
                elif kind == 'wait':
                    self.stop.wait(float(reply.get('seconds', 0.5)))
                else:
                    log.info('advisor says stop: %s', reply.get('reason'))
                    break
        finally:
            if finished is not None:
                self.channel.send({'type': 'finished', 'worker_id': self.worker_id, 'result': finished})
            self.channel.send({'type': 'bye', 'worker_id': self.worker_id})
            if self.runner is not None:
                self.runner.teardown()
        return 0

    def _prepare(self, job: dict) -> None:
        """The runner for this job's template; a template that is refused (changed on storage,
        does not import) makes every trial fail with the reason, so the advisor ends the sub-job."""
        model = job['model']
        train, val = self._storage_path(job['train_dataset']), self._storage_path(job['val_dataset'])
        if getattr(self.sandbox, 'name', '') == 'bubblewrap':
            self.train_path = f'{JOB_DIR}/train{_suffix(train)}'
            self.val_path = f'{JOB_DIR}/val{_suffix(val)}'
        else:                       # a plain child sees the host's (or container's) paths
            self.train_path, self.val_path = train, val
        self.runner = ModelRunner(self.sandbox, worker_limits(self.settings),
                                  binds={self.train_path: train, self.val_path: val}, on_output=self._output)
        template = TemplateSource(self._storage_path(model['path']), model['class'], model.get('kind', 'py'),
                                  model.get('module_file'), model.get('sha256'))
        try:
            self.runner.load_template(template, self.settings.max_model_bytes)
        except SingaError as e:
            self.load_error = f'the template cannot be used: {e.message}'
            log.error('%s', self.load_error)

    def _call(self, message: dict) -> Optional[dict]:
        """A request to the advisor, resent until answered; None when the sub-job ended or we stop."""
        message['service_id'] = self.settings.service_id
        while not self.stop.is_set():
            reply = self.channel.request(self.worker_id, message, timeout=REQUEST_TIMEOUT)
            if reply is not None:
                return reply
            if self.channel.is_done():
                return None
            log.info('no answer from the advisor in %.0f s; asking again', REQUEST_TIMEOUT)
        return None

    def _storage_path(self, relative: str) -> str:
        path = os.path.normpath(os.path.join(self.settings.storage_dir, relative))
        if not path.startswith(os.path.normpath(self.settings.storage_dir) + os.sep):
            raise ValueError(f'path {relative!r} is outside the shared storage')
        return path

    # -- one trial ---------------------------------------------------------------------------

    def run_trial(self, trial: dict) -> dict:
        trial_id = trial['trial_id']
        if self.load_error is not None:
            return self._result(trial_id, TrialStatus.ERRORED.value, error=self.load_error,
                                logs=[{'type': 'MESSAGE', 'level': 'ERROR', 'message': self.load_error,
                                       'time': _now()}])
        log.info('trial %s: training with %s', trial_id, trial['knobs'])
        buffer = self.buffer = LogBuffer()
        self.lease_lost.clear()
        beat = Ticker(float(self.job.get('heartbeat_seconds', 1.0)),
                      lambda: self._beat(trial_id, float(trial['lease_seconds']), buffer), name='heartbeat')
        beat.start()
        status, score, params_id, error = TrialStatus.ERRORED.value, None, None, None
        try:
            shared = None
            if trial.get('shared_params_id'):
                shared = self.param_store.load_encoded(trial['shared_params_id'])
            save = bool(trial.get('to_save_params', True))
            outcome = self.runner.train(trial['knobs'], self.train_path, self.val_path,
                                        self.job.get('train_args') or {}, save, shared, buffer.add,
                                        lambda step, score: self._report(trial_id, step, score))
            status, score, error = outcome.status, outcome.score, outcome.error
            if status == TrialStatus.STOPPED:
                error = 'interrupted: ' + ('the trial was cancelled' if self.lease_lost.is_set() else self.stop.reason)
            elif status == TrialStatus.COMPLETED and outcome.params is not None:
                params_id = self.param_store.save_encoded(outcome.params, scope=param_scope(self.settings.sub_job_id))
        except SingaError as e:      # shared parameters gone, parameters that do not decode, a template refused
            status, score, params_id, error = TrialStatus.ERRORED.value, None, None, e.message
        finally:
            beat.stop()
            self.buffer = None
        if error and status == TrialStatus.ERRORED:
            buffer.add({'type': 'MESSAGE', 'level': 'ERROR', 'message': error})
        log.info('trial %s: %s%s', trial_id, status,
                 f' (score {score:g})' if score is not None else f': {error}' if error else '')
        return self._result(trial_id, status, score, params_id, error, buffer.take())

    @staticmethod
    def _result(trial_id, status, score=None, params_id=None, error=None, logs=()) -> dict:
        return {'trial_id': trial_id, 'status': status, 'score': score, 'params_id': params_id,
                'error': error, 'logs': list(logs)}

    def _beat(self, trial_id: str, lease_seconds: float, buffer: LogBuffer) -> None:
        if not self.channel.heartbeat(trial_id, lease_seconds) and not self.lease_lost.is_set():
            log.warning('trial %s: lease gone; stopping it', trial_id)
            self.lease_lost.set()
            self.runner.kill('the trial was cancelled')
        lines = buffer.take()
        if lines:
            self.channel.send({'type': 'logs', 'worker_id': self.worker_id, 'trial_id': trial_id, 'lines': lines})

    def _report(self, trial_id: str, step: int, score: float) -> bool:
        """Whether the advisor prunes the trial at this intermediate score (no answer: go on)."""
        if self.lease_lost.is_set():
            return True
        try:
            reply = self.channel.request(self.worker_id, {'type': 'report', 'trial_id': trial_id, 'step': int(step),
                                                          'score': float(score),
                                                          'service_id': self.settings.service_id},
                                         timeout=REQUEST_TIMEOUT)
        except SingaError as e:
            log.warning('trial %s: could not report an intermediate score: %s', trial_id, e.message)
            return False
        return bool(reply and reply.get('prune'))

    def _output(self, line: str) -> None:
        """What the template printed: a MESSAGE of the running trial, else the worker's log."""
        buffer = self.buffer
        if buffer is not None:
            buffer.add({'type': 'MESSAGE', 'message': line})
        else:
            log.info('template: %s', line)

    def on_stop_signal(self, signum: int) -> None:
        """Stop the trial under way at once (the child is killed; the trial ends STOPPED)."""
        if self.runner is not None and self.buffer is not None:
            self.runner.kill(self.stop.reason or f'signal {signum}')


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds')
