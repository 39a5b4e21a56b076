"""The train worker: runs trials of one template for its sub-job's advisor. Runs user code.

It holds only a Redis user scoped to its job and the shared storage; it never sees the database.
Per trial: ask the advisor for knobs (handing in the previous trial's result in the same round
trip), build the model, train, evaluate, save the parameters, report. While the trial runs a
heartbeat thread renews its lease and ships log lines in batches; when the lease turns out to be
gone (the advisor cancelled the trial, or presumed this worker dead) or the worker is told to
stop, the user code is interrupted with ``TrialInterrupted`` and the trial ends STOPPED.
A template that raises costs only its trial: the traceback goes to the trial's logs.
"""
import datetime
import logging
import os
import signal
import threading
import traceback
from typing import Optional

from singa.constants import TrialStatus
from singa.errors import TrialPruned
from singa.model import logger as model_logger
from singa.model.loader import load_model_class
from singa.model.model import as_score
from singa.param_store import make_param_store
from singa.queues import TuningChannel, new_worker_id
from singa.workers.loop import Ticker

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0
_OWN_LOGGERS = ('singa.', 'workers.', 'redis', 'urllib3')


class TrialInterrupted(BaseException):
    """Raised inside user code when its trial is cancelled or the worker must stop.

    A ``BaseException``, like ``KeyboardInterrupt``, so that templates catching ``Exception``
    do not swallow it.
    """


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


class _TrialLogHandler(logging.Handler):
    """Python ``logging`` records of user code become MESSAGE lines of the trial."""

    def __init__(self, buffer: LogBuffer):
        super().__init__(level=logging.INFO)
        self.buffer = buffer

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_OWN_LOGGERS):
            return
        try:
            self.buffer.add({'type': 'MESSAGE', 'message': record.getMessage(), 'level': record.levelname,
                             'logger': record.name})
        except Exception:  # noqa: BLE001 - logging must never break a trial
            pass


class TrainWorker:
    def __init__(self, settings, redis_client, stop, replica: int = 0):
        self.settings = settings
        self.stop = stop
        self.channel = TuningChannel(redis_client, settings.job_id, settings.sub_job_id)
        self.worker_id = new_worker_id(settings.service_id, replica)
        self.param_store = make_param_store(settings)
        self.in_user_code = False
        self.lease_lost = threading.Event()
        self.pruned = False

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        signal.signal(signal.SIGUSR1, self._interrupt)
        job = self._call({'type': 'hello'})
        if job is None or job.get('type') != 'job':
            return 0
        self.job = job
        model = job['model']
        self.model_class = load_model_class(self._storage_path(model['path']), model['class'],
                                            file_kind=model.get('kind', 'py'), module_file=model.get('module_file'))
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
            teardown = getattr(self.model_class, 'teardown', None)
            if callable(teardown):
                try:
                    teardown()
                except Exception:  # noqa: BLE001
                    log.exception('teardown() of the template failed')
        return 0

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
        buffer = LogBuffer()
        self.lease_lost.clear()
        self.pruned = False
        beat = Ticker(float(self.job.get('heartbeat_seconds', 1.0)),
                      lambda: self._beat(trial_id, float(trial['lease_seconds']), buffer), name='heartbeat')
        handler = _TrialLogHandler(buffer)
        logging.getLogger().addHandler(handler)
        model_logger.attach(on_line=buffer.add, on_report=lambda step, score: self._report(trial_id, step, score))
        beat.start()
        status, score, params_id, error, model = TrialStatus.ERRORED.value, None, None, None, None
        try:
            self.in_user_code = True
            model = self.model_class(**trial['knobs'])
            shared = None
            if trial.get('shared_params_id'):
                shared = self.param_store.load(trial['shared_params_id'])
            model.train(self._storage_path(self.job['train_dataset']), shared_params=shared,
                        **(self.job.get('train_args') or {}))
            score = model.evaluate(self._storage_path(self.job['val_dataset']))
            self.in_user_code = False
            score = as_score(score)
            if trial.get('to_save_params', True):
                self.in_user_code = True
                params = model.dump_parameters()
                self.in_user_code = False
                params_id = self.param_store.save(params)
            status = TrialStatus.PRUNED.value if self.pruned else TrialStatus.COMPLETED.value
        except TrialPruned:
            self.in_user_code = False
            status, score = TrialStatus.PRUNED.value, None
        except TrialInterrupted:
            self.in_user_code = False
            status, score = TrialStatus.STOPPED.value, None
            error = 'interrupted: ' + ('the trial was cancelled' if self.lease_lost.is_set() else self.stop.reason)
        except Exception as e:  # noqa: BLE001 - user code may raise anything; it costs only this trial
            self.in_user_code = False
            status, score = (TrialStatus.PRUNED.value, None) if self.pruned else (TrialStatus.ERRORED.value, None)
            error = traceback.format_exc(limit=30)
            buffer.add({'type': 'MESSAGE', 'level': 'ERROR', 'message': f'{type(e).__name__}: {e}\n{error}'})
        finally:
            self.in_user_code = False
            beat.stop()
            model_logger.detach()
            logging.getLogger().removeHandler(handler)
            if model is not None:
                try:
                    model.destroy()
                except Exception:  # noqa: BLE001
                    log.exception('destroy() of the template failed')
        if status != TrialStatus.COMPLETED:
            params_id = None
        return {'trial_id': trial_id, 'status': status, 'score': score, 'params_id': params_id,
                'error': error, 'logs': buffer.take()}

    def _beat(self, trial_id: str, lease_seconds: float, buffer: LogBuffer) -> None:
        if not self.channel.heartbeat(trial_id, lease_seconds) and not self.lease_lost.is_set():
            log.warning('trial %s: lease gone; interrupting it', trial_id)
            self.lease_lost.set()
            os.kill(os.getpid(), signal.SIGUSR1)
        lines = buffer.take()
        if lines:
            self.channel.send({'type': 'logs', 'worker_id': self.worker_id, 'trial_id': trial_id, 'lines': lines})

    def _report(self, trial_id: str, step: int, score: float) -> bool:
        if self.lease_lost.is_set():
            raise TrialInterrupted()
        reply = self.channel.request(self.worker_id, {'type': 'report', 'trial_id': trial_id, 'step': int(step),
                                                      'score': float(score),
                                                      'service_id': self.settings.service_id},
                                     timeout=REQUEST_TIMEOUT)
        prune = bool(reply and reply.get('prune'))
        self.pruned = self.pruned or prune
        return prune

    def _interrupt(self, signum=None, frame=None) -> None:
        """Signal handler (main thread): interrupt user code if it is running."""
        if self.in_user_code:
            self.in_user_code = False
            raise TrialInterrupted()

    def on_stop_signal(self, signum: int) -> None:
        self._interrupt()



def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds')
