"""The train worker: runs trials of one template for its sub-job's advisor. It never imports the
template: a ``ModelRunner`` drives it in a sandboxed child (``singa.sandbox``).

The worker holds a Redis user scoped to its job and the shared storage; it never sees the
database, and the child sees neither: only the template's bytes (checked against the SHA-256
recorded at upload), its dependencies' environment if it has one (``singa.envs``), the job's two
dataset files, read-only, and a private temporary directory.
Per trial: ask the advisor for knobs (handing in the previous trial's result in the same round
trip), run the trial in the child, store the parameters it sends back (after decoding them),
report. While the trial runs a heartbeat thread renews its lease and ships log lines in batches;
when the lease turns out to be gone (the advisor cancelled the trial, or presumed this worker
dead) or the worker is told to stop, the child is killed and the trial ends STOPPED; the next
trial gets a new child. A template that raises, or a child that dies, costs only its trial.
When the job caps the trials running at once across its templates (``MAX_CONCURRENT_TRIALS``),
the worker takes one of the job's slots (``TrialSlots``) before it asks for a trial and gives it
back once the advisor has recorded the trial's end.

An outage of Redis does not end the worker: its requests are sent again until Redis is back (with
the same ``req_id``, so the advisor answers each once), the trial under way goes on, and its
heartbeat grants the lease again if Redis lost it.
"""
import datetime
import logging
import os
import threading
import time
from typing import Optional

from singa.constants import TrialStatus
from singa.envs import template_env
from singa.errors import ServiceUnavailableError, SingaError
from singa.param_store import make_param_store, param_scope
from singa.queues import (Bye, Finished, Hello, JobSpec, Logs, Propose, Report, ReportReply, Stop, TrialAssignment,
                          TrialResult, TrialSlots, TuningChannel, TuningMessage, Wait, new_worker_id)
from singa.sandbox import ModelRunner, TemplateSource, make_sandbox, worker_limits
from singa.workers.loop import Outage, Ticker

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 5.0
SLOT_POLL_SECONDS = 0.1      # how often a worker waiting for one of the job's trial slots asks again
# A worker's place in the queue for the job's trial slots lives this long unless renewed (at each
# attempt): a worker that died while waiting leaves the queue this soon.
SLOT_WAIT_SECONDS = 2 * REQUEST_TIMEOUT
# A slot held lives the trial's lease and this much more unless renewed (at each heartbeat): a
# worker that died frees its slot only after its advisor (which checks leases every 0.25 s) has
# recorded its trial lost, so the database never shows more trials running than the cap.
SLOT_MARGIN_SECONDS = 3.0
FAREWELL_SECONDS = 10.0      # how long an exiting worker keeps trying to hand in its last result
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

    def put_back(self, lines: list[dict]) -> None:
        """Lines taken that could not be shipped: first in the next batch."""
        with self._lock:
            self._lines[:0] = lines


class TrainWorker:
    def __init__(self, settings, redis_client, stop, sandbox=None):
        self.settings = settings
        self.stop = stop
        self.channel = TuningChannel(redis_client, settings.job_id, settings.sub_job_id)
        self.worker_id = new_worker_id(settings.service_id, settings.task_id)
        self.param_store = make_param_store(settings)
        self.sandbox = sandbox or make_sandbox(settings)
        self.runner: Optional[ModelRunner] = None
        self.load_error: Optional[str] = None
        self.lease_lost = threading.Event()
        self.slot_lost = threading.Event()
        self.buffer: Optional[LogBuffer] = None
        self.outage = Outage(stop)
        self.beat_outage = False
        self.slots: Optional[TrialSlots] = None

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> int:
        job = self._call(Hello(worker_id=self.worker_id, service_id=self.settings.service_id))
        if not isinstance(job, JobSpec):
            return 0
        self.job = job
        if job.max_concurrent_trials:
            self.slots = TrialSlots(self.channel.r, self.settings.job_id, job.max_concurrent_trials,
                                    hold_seconds=float(job.lease_seconds) + SLOT_MARGIN_SECONDS,
                                    wait_seconds=SLOT_WAIT_SECONDS)
        self._prepare(job)
        finished: Optional[TrialResult] = None     # a result the advisor has not recorded yet
        beat: Optional[Ticker] = None
        try:
            while not self.stop.is_set():
                if self.slots is not None and not self._take_slot():
                    break
                reply = self._call(Propose(worker_id=self.worker_id, service_id=self.settings.service_id,
                                           finished=finished))
                if beat is not None:
                    beat.stop()
                    beat = None
                if reply is None:
                    break
                finished = None
                if isinstance(reply, TrialAssignment):
                    beat = self._heartbeat(reply)
                    finished = self.run_trial(reply)
                    if self.slots is not None:
                        reply = self._hand_in(finished)
                        beat.stop()
                        beat = None
                        if reply is None:
                            break
                        finished = None
                        self._release_slot()
                        if isinstance(reply, Stop):
                            break
                elif isinstance(reply, Wait):
                    self._release_slot()
                    self.stop.wait(reply.seconds)
                else:
                    log.info('advisor says stop: %s', reply.reason if isinstance(reply, Stop) else reply)
                    break
        finally:
            if finished is not None:
                self._farewell(Finished(worker_id=self.worker_id, result=finished))
            if beat is not None:
                beat.stop()
            if self.slots is not None:
                if finished is None or self._sub_job_done():
                    self._release_slot()
                elif self.slots.holds(self.worker_id):      # it frees itself after the advisor records the end
                    log.info('leaving the trial slot to expire: the advisor has not recorded the last trial yet')
            self._farewell(Bye(worker_id=self.worker_id))
            if self.runner is not None:
                self.runner.teardown()
        return 0

    def _take_slot(self) -> bool:
        """Wait for one of the job's trial slots (its ``MAX_CONCURRENT_TRIALS``); False when the
        worker stops, or the sub-job ended."""
        while not self.stop.is_set():
            try:
                if self.slots.acquire(self.worker_id):
                    return True
                if self.channel.is_done():
                    break
                self.outage.over()
            except ServiceUnavailableError as e:
                self.outage.wait(e)
                continue
            self.stop.wait(SLOT_POLL_SECONDS)
        return False

    def _hand_in(self, result: TrialResult) -> Optional[TuningMessage]:
        """Hand a trial's result to the advisor and wait until it is recorded, so that the slot the
        trial held is given back only after the trial's end is in the database. A worker told to
        stop meanwhile still tries for ``FAREWELL_SECONDS``. None when it was not recorded."""
        request = Propose(worker_id=self.worker_id, service_id=self.settings.service_id, finished=result,
                          wants_trial=False)
        return self._call(request, give_up=time.monotonic() + FAREWELL_SECONDS)

    def _sub_job_done(self) -> bool:
        """Whether the sub-job has ended (its advisor recorded every trial's end); False if Redis
        cannot tell."""
        try:
            return self.channel.is_done()
        except ServiceUnavailableError:
            return False

    def _release_slot(self) -> None:
        if self.slots is None:
            return
        try:
            self.slots.release(self.worker_id)
        except ServiceUnavailableError as e:     # the hold expires on its own
            log.warning('could not give the trial slot back: %s', e.message)

    def _prepare(self, job: JobSpec) -> None:
        """The runner for this job's template; a template that is refused (changed on storage,
        its environment missing, does not import) makes every trial fail with the reason, so the
        advisor ends the sub-job."""
        train, val = self._storage_path(job.train_dataset), self._storage_path(job.val_dataset)
        if self.sandbox.private_paths:
            self.train_path = f'{JOB_DIR}/train{_suffix(train)}'
            self.val_path = f'{JOB_DIR}/val{_suffix(val)}'
        else:                       # a plain child sees the host's (or container's) paths
            self.train_path, self.val_path = train, val
        template = TemplateSource(self._storage_path(job.model_path), job.model_class, job.file_kind,
                                  job.module_file, job.file_sha256)
        try:
            env = template_env(self.settings.storage_dir, job.env)
            self.runner = ModelRunner(self.sandbox, worker_limits(self.settings),
                                      binds={self.train_path: train, self.val_path: val}, on_output=self._output,
                                      env=env)
            self.runner.load_template(template, self.settings.max_model_bytes)
        except SingaError as e:
            self.load_error = f'the template cannot be used: {e.message}'
            log.error('%s', self.load_error)

    def _call(self, request, give_up: float = 0.0) -> Optional[TuningMessage]:
        """A request to the advisor, sent again until answered (through outages of Redis too);
        None when the sub-job ended, or we stop (and the monotonic time ``give_up`` has passed)."""
        while not self.stop.is_set() or time.monotonic() < give_up:
            try:
                reply = self.channel.request(request, timeout=REQUEST_TIMEOUT)
                if reply is None and self.channel.is_done():
                    return None
                self.outage.over()
            except ServiceUnavailableError as e:
                self.outage.wait(e)
                if self.stop.is_set():          # the outage's wait ends at once on a stop
                    time.sleep(0.2)
                continue
            if reply is not None:
                return reply
            log.info('no answer from the advisor in %.0f s; asking again', REQUEST_TIMEOUT)
        return None

    def _farewell(self, message: TuningMessage) -> None:
        """A last one-way message, sent through a short outage of Redis if need be."""
        give_up = time.monotonic() + FAREWELL_SECONDS
        while True:
            try:
                self.channel.send(message)
                return
            except ServiceUnavailableError as e:
                if time.monotonic() > give_up:
                    log.error('could not send %s to the advisor: %s', message.TYPE, e.message)
                    return
                time.sleep(0.2)

    def _storage_path(self, relative: str) -> str:
        path = os.path.normpath(os.path.join(self.settings.storage_dir, relative))
        if not path.startswith(os.path.normpath(self.settings.storage_dir) + os.sep):
            raise ValueError(f'path {relative!r} is outside the shared storage')
        return path

    # -- one trial ---------------------------------------------------------------------------

    def _heartbeat(self, trial: TrialAssignment) -> Ticker:
        """Renew the trial's lease and ship its log lines, until stopped: through the trial and on
        until the advisor has taken its result, so that a slow answer never costs a finished trial."""
        self.lease_lost.clear()
        self.slot_lost.clear()
        buffer = self.buffer = LogBuffer()
        beat = Ticker(float(self.job.heartbeat_seconds),
                      lambda: self._beat(trial.trial_id, float(trial.lease_seconds), buffer), name='heartbeat')
        beat.start()
        return beat

    def run_trial(self, trial: TrialAssignment) -> TrialResult:
        """Run one trial in the child (``_heartbeat`` renews its lease meanwhile)."""
        trial_id = trial.trial_id
        buffer = self.buffer
        if self.load_error is not None:
            self.buffer = None
            return TrialResult(trial_id=trial_id, status=TrialStatus.ERRORED, error=self.load_error,
                               logs=[{'type': 'MESSAGE', 'level': 'ERROR', 'message': self.load_error,
                                      'time': _now()}])
        log.info('trial %s: training with %s', trial_id, trial.knobs)
        status, score, params_id, error, params_bytes, metrics = TrialStatus.ERRORED, None, None, None, None, None
        try:
            shared = None
            if trial.shared_params_id:
                shared = self.param_store.load_encoded(trial.shared_params_id)
            outcome = self.runner.train(trial.knobs, self.train_path, self.val_path, self.job.train_args,
                                        trial.to_save_params, shared, buffer.add,
                                        lambda step, score: self._report(trial_id, step, score), task=self.job.task)
            status, score, error = TrialStatus(outcome.status), outcome.score, outcome.error
            metrics = outcome.metrics if status == TrialStatus.COMPLETED else None
            if status == TrialStatus.STOPPED:
                error = 'interrupted: ' + ('the trial was cancelled' if self.lease_lost.is_set()
                                           else 'the trial lost its slot' if self.slot_lost.is_set() else self.stop.reason)
            elif status == TrialStatus.COMPLETED and outcome.params is not None:
                params_id = self.param_store.save_encoded(outcome.params, scope=param_scope(self.settings.sub_job_id))
                params_bytes = len(outcome.params)
        except SingaError as e:      # shared parameters gone, parameters that do not decode, a template refused
            status, score, params_id, error = TrialStatus.ERRORED, None, None, e.message
        finally:
            self.buffer = None
        if error and status == TrialStatus.ERRORED:
            buffer.add({'type': 'MESSAGE', 'level': 'ERROR', 'message': error})
        log.info('trial %s: %s%s', trial_id, status,
                 f' (score {score:g})' if score is not None else f': {error}' if error else '')
        return TrialResult(trial_id=trial_id, status=status, score=score, params_id=params_id, error=error,
                           logs=buffer.take(), params_bytes=params_bytes if params_id else None, metrics=metrics)

    def _beat(self, trial_id: str, lease_seconds: float, buffer: LogBuffer) -> None:
        try:
            if self.slots is not None and self.slots.holds(self.worker_id):
                self._renew_slot(buffer)
            if not self.channel.heartbeat(trial_id, lease_seconds) and not self.lease_lost.is_set():
                self.lease_lost.set()
                if self.buffer is buffer:          # still running
                    log.warning('trial %s: cancelled by the advisor; stopping it', trial_id)
                    self.runner.kill('the trial was cancelled')
            lines = buffer.take()
            if lines:
                try:
                    self.channel.send(Logs(worker_id=self.worker_id, trial_id=trial_id, lines=lines))
                except ServiceUnavailableError:
                    buffer.put_back(lines)
                    raise
        except ServiceUnavailableError as e:
            if not self.beat_outage:
                log.warning('trial %s: cannot renew its lease (%s); the trial goes on', trial_id, e.message)
            self.beat_outage = True
            return
        self.beat_outage = False

    def _renew_slot(self, buffer: LogBuffer) -> None:
        """Keep the trial's slot (through the trial and until its result is recorded). A slot that
        another worker holds now (this one could not renew it in time) stops the trial, so that the
        job's trials running at once never exceed its cap."""
        if not self.slots.renew(self.worker_id) and self.buffer is buffer:
            self.slot_lost.set()
            log.warning('the trial lost its slot (another worker took it); stopping it')
            self.runner.kill('the trial lost its slot')

    def _report(self, trial_id: str, step: int, score: float) -> bool:
        """Whether the advisor prunes the trial at this intermediate score (no answer: go on)."""
        if self.lease_lost.is_set():
            return True
        try:
            reply = self.channel.request(Report(worker_id=self.worker_id, service_id=self.settings.service_id,
                                                trial_id=trial_id, step=int(step), score=float(score)),
                                         timeout=REQUEST_TIMEOUT)
        except SingaError as e:
            log.warning('trial %s: could not report an intermediate score: %s', trial_id, e.message)
            return False
        return isinstance(reply, ReportReply) and reply.prune

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
