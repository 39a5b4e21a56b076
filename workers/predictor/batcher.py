"""The predictor's core: batch concurrent queries, fan each batch out, gather, ensemble.

Requests wait in a queue. The dispatcher thread sends a batch when fewer than ``max_inflight``
batches are out, after waiting up to ``max_wait`` seconds for it to grow as large as recent
batches were (a lone client's batches are of one query, so it never waits; a busy predictor
keeps sending full batches instead of alternating small and large ones). A batch holds whole
requests, up to ``max_batch_size`` queries and ``max_batch_bytes`` of request bodies (a larger
request goes alone). Each batch goes to the queue of every deployed trial that has a live
replica; the listener thread collects the replies until every trial has answered or the request
deadline (``timeout``) passes, then ensembles what came back.

No request waits on a dead part while another can answer. A replica that took a batch and has
not answered within ``replica_timeout`` (it died, hangs or is slow) is not waited for while its
trial has another live replica: the listener puts the batch back at the front of the trial's
queue and keeps the first reply of each trial. Whether a replica has taken a batch the listener
learns from the queue itself: a batch not answered within a quarter of ``replica_timeout`` is
looked for in its queue every quarter until it is gone from it, and counts as taken from the
last time it was seen there (so a batch that waited long in the queue, behind slow answers, is
not sent twice; answers within that first quarter cost no look at all). A batch goes to a trial
at most as often as the trial had replicas alive since it was first sent (the one that took it
may have died since, or a restarted one come up), so a trial with a single replica is never sent
a batch twice unless that replica was replaced. A trial left with no live replica costs its vote
at once instead of at the deadline.

Neither thread dies of an error: a batch that cannot be sent or answered fails its requests with
the error's status and the loop goes on. ``health()`` says whether both loops run and make
progress, for ``/health`` and ``/ready``.
"""
import collections
import dataclasses
import logging
import threading
import time
import uuid
from typing import Optional

from singa.errors import InvalidRequestError, ServiceUnavailableError, SingaError
from singa.queues import Batch, Reply, ServingConfig
from singa.workers.predictor.ensemble import MISSING, ensemble_batch

log = logging.getLogger(__name__)

LIVE_CACHE_SECONDS = 0.25
LISTEN_SECONDS = 0.05          # the listener's longest blocking pop
IDLE_SECONDS = 1.0             # the longest an idle dispatcher waits between two beats
STUCK_SECONDS = 10.0           # a loop silent this long is stuck (must be above IDLE_SECONDS)
LOOK_FRACTION = 0.25           # of replica_timeout: how often an unanswered batch is looked at


@dataclasses.dataclass
class Request:
    queries: list
    details: bool = False
    size: int = 0                   # bytes of its body
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    result: Optional[dict] = None
    error: Optional[SingaError] = None


@dataclasses.dataclass
class Dispatch:
    """A batch's copy for one trial, until the trial answers or is given up (monotonic times)."""
    due: float                      # when to look at it again
    seen: set                       # the trial's replicas that were live when it was pushed (ever)
    waited: float                   # when it was last known to wait in the queue (or pushed)
    sends: int = 1                  # how often it was pushed onto the trial's queue
    taken: bool = False             # gone from the queue: a replica has it since ``waited`` at the latest


@dataclasses.dataclass
class Pending:
    batch_id: str
    requests: list
    deadline: float                 # monotonic
    waiting: dict                   # trial id -> Dispatch, for the trials that have not answered
    wire: bytes = b''               # the batch as sent (to send it again)
    replies: dict = dataclasses.field(default_factory=dict)   # trial id -> Reply


class BatchObserver:
    """What a batcher tells whoever watches it (the predictor's metrics); this one ignores it."""

    def batch_sent(self, queries: int) -> None:
        """A batch of ``queries`` queries went to the models."""

    def model_answered(self, trial_id: str, seconds: float) -> None:
        """A deployed trial answered a batch ``seconds`` after it was sent."""


class Batcher:
    def __init__(self, channel, config: ServingConfig, *, max_batch_size: int = 32, max_batch_bytes: int = 32 << 20,
                 max_wait: float = 0.005, timeout: float = 10.0, replica_timeout: float = 2.0, max_inflight: int = 2,
                 stuck_after: float = STUCK_SECONDS):
        self.channel = channel
        self.trials = [t.trial_id for t in config.trials]
        self.names = {t.trial_id: t.model_name for t in config.trials}
        self.weights = {t.trial_id: t.score for t in config.trials}
        self.method = config.ensemble
        self.task = config.task
        self.max_batch_size = max(1, max_batch_size)
        self.max_batch_bytes = max_batch_bytes
        self.max_wait = max(0.0, max_wait)
        self.timeout = timeout
        self.replica_timeout = replica_timeout
        self.max_inflight = max(1, max_inflight)
        self.stuck_after = stuck_after
        self.predictor_id = uuid.uuid4().hex[:12]
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._arriving = 0          # requests being parsed, not yet queued
        self._inflight = 0
        self._recent_size = 1.0    # moving average of batch sizes
        self._pending: dict[str, Pending] = {}
        self._pending_lock = threading.Lock()
        self._live: tuple = (float('-inf'), {})
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=self._dispatch_loop, name='dispatcher', daemon=True),
                         threading.Thread(target=self._listen_loop, name='listener', daemon=True)]
        self._beats = {t.name: time.monotonic() for t in self._threads}
        self.observer = BatchObserver()

    def start(self) -> 'Batcher':
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()

    def health(self) -> dict[str, str]:
        """Each loop's state: ``ok``, ``dead`` (its thread ended) or ``stuck for N s`` (no progress)."""
        now = time.monotonic()
        states = {}
        for thread in self._threads:
            silent = now - self._beats[thread.name]
            if not thread.is_alive():
                states[thread.name] = 'stopped' if self._stopped.is_set() else 'dead'
            elif silent > self.stuck_after:
                states[thread.name] = f'stuck for {silent:.0f} s'
            else:
                states[thread.name] = 'ok'
        return states

    # -- the request side ------------------------------------------------------------------------

    def arriving(self) -> 'Batcher':
        """Count a request that will be submitted soon (lets the dispatcher wait for it)."""
        with self._cond:
            self._arriving += 1
        return self

    def submit(self, queries: list, details: bool = False, counted: bool = False, size: int = 0) -> dict:
        """Block until the queries are answered (or fail); returns the predictor's answer body."""
        request = Request(queries, details, size)
        with self._cond:
            if counted:
                self._arriving -= 1
            self._queue.append(request)
            self._cond.notify_all()
        if not request.done.wait(self.timeout + 5.0):
            raise ServiceUnavailableError('the predictor did not answer in time', resource='predictor')
        if request.error is not None:
            raise request.error
        return request.result

    def abandon(self) -> None:
        """A counted request that will not be submitted after all (its body was bad)."""
        with self._cond:
            self._arriving -= 1
            self._cond.notify_all()

    # -- dispatching -----------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopped.is_set():
            batch = []
            try:
                batch = self._next_batch()
                if batch:
                    self._send(batch)
            except Exception as e:  # noqa: BLE001 - nothing may stop the dispatcher
                self._fail(batch, _as_singa_error(e, 'sending a batch'))
                if batch:
                    self._release()

    def _next_batch(self) -> list:
        with self._cond:
            while not self._stopped.is_set() and (not self._queue or self._inflight >= self.max_inflight):
                self._beats['dispatcher'] = time.monotonic()
                self._cond.wait(IDLE_SECONDS)
            self._beats['dispatcher'] = time.monotonic()
            if self._stopped.is_set():
                return []
            # Expect a batch about as large as the recent ones (a lone client's are 1: no wait), and
            # wait up to max_wait for it to fill, or for requests already being parsed.
            target = min(self.max_batch_size, max(1, round(self._recent_size)))
            deadline = time.monotonic() + self.max_wait
            while (self._size() < target or self._arriving > 0) and self._size() < self.max_batch_size:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, size, nbytes = [], 0, 0
            while self._queue and (not batch or (size + len(self._queue[0].queries) <= self.max_batch_size
                                                 and nbytes + self._queue[0].size <= self.max_batch_bytes)):
                request = self._queue.popleft()
                batch.append(request)
                size += len(request.queries)
                nbytes += request.size
            self._recent_size = 0.5 * self._recent_size + 0.5 * size
            self._inflight += 1
            return batch

    def _size(self) -> int:
        return sum(len(r.queries) for r in self._queue)

    def _send(self, requests: list) -> None:
        live = self._live_replicas()
        trials = [t for t in self.trials if live.get(t)]
        if not trials:
            raise ServiceUnavailableError('no model of this inference job is up right now; try again shortly',
                                          resource='predictor')
        now = time.monotonic()
        batch = Batch(uuid.uuid4().hex, [q for request in requests for q in request.queries],
                      self.channel.replies(self.predictor_id), time.time() + self.timeout)
        pending = Pending(batch.batch_id, requests, now + self.timeout,
                          {t: Dispatch(now + self.replica_timeout * LOOK_FRACTION, set(live[t]), now)
                           for t in trials})
        with self._pending_lock:
            self._pending[batch.batch_id] = pending
        self.observer.batch_sent(len(batch.queries))
        try:
            pending.wire = self.channel.send_batch(trials, batch)
        except BaseException:
            with self._pending_lock:
                mine = self._pending.pop(batch.batch_id, None) is not None
            if mine:     # else the listener has ended the batch already
                raise

    def _live_replicas(self) -> dict:
        """Trial id -> its live replicas (read from Redis at most every LIVE_CACHE_SECONDS)."""
        at, live = self._live
        now = time.monotonic()
        if now - at > LIVE_CACHE_SECONDS:
            live = self.channel.live_replicas(self.trials)
            self._live = (now, live)
        return live

    def _release(self) -> None:
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    # -- gathering -------------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        while not self._stopped.is_set():
            self._beats['listener'] = time.monotonic()
            try:
                self._listen_once()
            except SingaError as e:
                log.warning('the listener could not look after its batches: %s', e)
                self._stopped.wait(0.5)
            except Exception:  # noqa: BLE001 - nothing may stop the listener
                log.exception('the listener failed; it goes on')
                self._stopped.wait(LISTEN_SECONDS)

    def _listen_once(self) -> None:
        try:
            reply = self.channel.receive_reply(self.predictor_id, timeout=LISTEN_SECONDS)
        except SingaError as e:     # Redis is away: batches past their deadline still end
            log.warning('the listener could not read replies: %s', e)
            self._stopped.wait(0.5)
            reply = None
        if reply is not None:
            self._take(reply)
        now = time.monotonic()
        with self._pending_lock:
            expired = [p for p in self._pending.values() if p.deadline <= now]
            for p in expired:
                del self._pending[p.batch_id]
            due = [(p, t, d) for p in self._pending.values() if p.wire
                   for t, d in p.waiting.items() if d.due <= now]
        for p in expired:
            self._finish(p)
        if due:
            self._chase(due, now)

    def _take(self, reply: Reply) -> None:
        """Keep the first reply of each trial to a batch; answer the batch once every trial has."""
        with self._pending_lock:
            pending = self._pending.get(reply.batch_id)
            if pending is None or pending.waiting.pop(reply.trial_id, None) is None:
                return      # late, sent twice, or not for this predictor
            pending.replies[reply.trial_id] = reply
            self.observer.model_answered(reply.trial_id, time.monotonic() - (pending.deadline - self.timeout))
            complete = not pending.waiting and self._pending.pop(pending.batch_id, None) is not None
        if complete:
            self._finish(pending)

    def _chase(self, due: list, now: float) -> None:
        """Look after the trials that owe a batch an answer (see the module's docstring)."""
        live = self._live_replicas()
        gone = [(p, t) for p, t, _ in due if not live.get(t)]
        looks = [(p, t, d) for p, t, d in due if live.get(t) and not d.taken]
        queued = self.channel.still_queued([(t, p.wire) for p, t, _ in looks]) if looks else []
        for (p, t, d), waiting in zip(looks, queued):
            if waiting:
                d.waited, d.due = now, now + self.replica_timeout * LOOK_FRACTION
            else:
                d.taken, d.due = True, d.waited + self.replica_timeout
        again = []
        for p, t, d in due:
            replicas = live.get(t)
            if not replicas or not d.taken or d.due > now:
                continue
            if len(replicas | d.seen) > d.sends:
                again.append((t, p.wire))
                d.sends, d.seen, d.taken, d.waited = d.sends + 1, d.seen | replicas, False, now
                log.warning('batch %s: no answer from model %s within %g s; sent it to another replica',
                            p.batch_id, self.names[t], self.replica_timeout)
            d.due = now + self.replica_timeout * LOOK_FRACTION
        if again:
            self.channel.resend(again)
        finished = []
        with self._pending_lock:
            for p, t in gone:     # no replica left to answer: the model loses its vote now
                p.waiting.pop(t, None)
                if not p.waiting and self._pending.pop(p.batch_id, None) is not None:
                    finished.append(p)
        for p in finished:
            self._finish(p)

    def _finish(self, pending: Pending) -> None:
        try:
            self._answer(pending)
        except Exception as e:  # noqa: BLE001 - a bad reply must not hang the requests
            self._fail(pending.requests, _as_singa_error(e, f'answering batch {pending.batch_id}'))
        finally:
            self._release()

    def _answer(self, pending: Pending) -> None:
        answered = [t for t in self.trials if t in pending.replies]
        if not answered:
            late = time.monotonic() >= pending.deadline
            self._fail(pending.requests, ServiceUnavailableError(
                f'no model answered within {self.timeout:g} s' if late
                else 'every model stopped before it answered; try again shortly', resource='predictor'))
            return
        offset = 0
        for request in pending.requests:
            n = len(request.queries)
            per_model, errors = [], {}
            for trial_id in answered:
                reply = pending.replies[trial_id]
                answers = []
                for i in range(offset, offset + n):
                    if str(i) in reply.errors or i >= len(reply.predictions):
                        errors.setdefault(i - offset, []).append(
                            f'{self.names[trial_id]}: {reply.errors.get(str(i), "no answer")}')
                        answers.append(MISSING)
                    else:
                        answers.append(reply.predictions[i])
                per_model.append(answers)
            combined = ensemble_batch(per_model, [self.weights[t] for t in answered], self.method, self.task)
            if all(c is None for c in combined) and errors:
                request.error = InvalidRequestError(
                    'no model could predict ' + ('this query' if n == 1 else 'these queries') + ': '
                    + '; '.join(errors[min(errors)]), details={'errors': {str(k): v for k, v in errors.items()}})
            else:
                request.result = {
                    'predictions': combined,
                    'models': [{'trial_id': t, 'model_name': self.names[t], 'answered': t in pending.replies}
                               for t in self.trials]}
                if errors:
                    request.result['errors'] = {str(k): v for k, v in errors.items()}
                if request.details:
                    request.result['model_predictions'] = [
                        {'trial_id': t, 'model_name': self.names[t],
                         'predictions': [None if a is MISSING else a for a in answers]}
                        for t, answers in zip(answered, per_model)]
            request.done.set()
            offset += n

    def _fail(self, requests: list, error: SingaError) -> None:
        for request in requests:
            if not request.done.is_set():
                request.error = error
                request.done.set()


def loops_ok(states: dict) -> bool:
    """Whether every loop of a ``Batcher.health()`` is ``ok``."""
    return all(state == 'ok' for state in states.values())


def _as_singa_error(e: Exception, doing: str) -> SingaError:
    """``e`` itself when it is a ``SingaError``; else logged, and a 500 that says what failed."""
    if isinstance(e, SingaError):
        return e
    log.exception('the predictor failed %s', doing)
    return SingaError(f'the predictor failed {doing} ({type(e).__name__}); see its log')
