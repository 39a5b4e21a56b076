"""The predictor's core: batch concurrent queries, fan each batch out, gather, ensemble.

Requests wait in a queue. The dispatcher thread sends a batch when fewer than ``max_inflight``
batches are out, after waiting up to ``max_wait`` seconds for it to grow as large as recent
batches were (a lone client's batches are of one query, so it never waits; a busy predictor
keeps sending full batches instead of alternating small and large ones). A batch holds whole requests, up to ``max_batch_size`` queries (a larger
request goes alone). Each batch goes to one replica of every deployed trial that has a live
replica; the listener thread collects the replies until all have answered or the deadline
passes, then ensembles what came back. A dead or slow model costs its vote, never the request.
"""
import collections
import dataclasses
import logging
import threading
import time
import uuid
from typing import Optional

from singa.errors import InvalidRequestError, ServiceUnavailableError, SingaError
from singa.workers.predictor.ensemble import MISSING, ensemble_batch

log = logging.getLogger(__name__)

LIVE_CACHE_SECONDS = 0.25


@dataclasses.dataclass
class Request:
    queries: list
    details: bool = False
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    result: Optional[dict] = None
    error: Optional[SingaError] = None


@dataclasses.dataclass
class Pending:
    batch_id: str
    requests: list
    expected: set
    deadline: float
    replies: dict = dataclasses.field(default_factory=dict)   # trial id -> reply


class BatchObserver:
    """What a batcher tells whoever watches it (the predictor's metrics); this one ignores it."""

    def batch_sent(self, queries: int) -> None:
        """A batch of ``queries`` queries went to the models."""

    def model_answered(self, trial_id: str, seconds: float) -> None:
        """A deployed trial answered a batch ``seconds`` after it was sent."""


class Batcher:
    def __init__(self, channel, config: dict, *, max_batch_size: int = 32, max_wait: float = 0.005,
                 timeout: float = 10.0, max_inflight: int = 2):
        self.channel = channel
        self.trials = [str(t['trial_id']) for t in config['trials']]
        self.names = {str(t['trial_id']): t.get('model_name', '') for t in config['trials']}
        self.weights = {str(t['trial_id']): t.get('score') for t in config['trials']}
        self.method = config.get('ensemble', 'AUTO')
        self.task = config.get('task', '')
        self.max_batch_size = max(1, max_batch_size)
        self.max_wait = max(0.0, max_wait)
        self.timeout = timeout
        self.max_inflight = max(1, max_inflight)
        self.predictor_id = uuid.uuid4().hex[:12]
        self.observer = BatchObserver()
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._arriving = 0          # requests being parsed, not yet queued
        self._inflight = 0
        self._recent_size = 1.0    # moving average of batch sizes
        self._pending: dict[str, Pending] = {}
        self._pending_lock = threading.Lock()
        self._live: tuple = (0.0, set())
        self._stopped = threading.Event()
        self._threads = [threading.Thread(target=self._dispatch_loop, name='dispatcher', daemon=True),
                         threading.Thread(target=self._listen_loop, name='listener', daemon=True)]

    def start(self) -> 'Batcher':
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()

    # -- the request side ------------------------------------------------------------------------

    def arriving(self) -> 'Batcher':
        """Count a request that will be submitted soon (lets the dispatcher wait for it)."""
        with self._cond:
            self._arriving += 1
        return self

    def submit(self, queries: list, details: bool = False, counted: bool = False) -> dict:
        """Block until the queries are answered (or fail); returns the predictor's answer body."""
        request = Request(queries, details)
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
            batch = self._next_batch()
            if batch:
                try:
                    self._send(batch)
                except SingaError as e:
                    self._fail(batch, e)
                    self._release()

    def _next_batch(self) -> list:
        with self._cond:
            while not self._stopped.is_set() and (not self._queue or self._inflight >= self.max_inflight):
                self._cond.wait(1.0)
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
            batch, size = [], 0
            while self._queue and (not batch or size + len(self._queue[0].queries) <= self.max_batch_size):
                request = self._queue.popleft()
                batch.append(request)
                size += len(request.queries)
            self._recent_size = 0.5 * self._recent_size + 0.5 * size
            self._inflight += 1
            return batch

    def _size(self) -> int:
        return sum(len(r.queries) for r in self._queue)

    def _send(self, batch: list) -> None:
        live = self._live_trials()
        if not live:
            raise ServiceUnavailableError('no model of this inference job is up right now; try again shortly',
                                          resource='predictor')
        batch_id = uuid.uuid4().hex
        deadline = time.time() + self.timeout
        pending = Pending(batch_id, batch, set(live), time.monotonic() + self.timeout)
        with self._pending_lock:
            self._pending[batch_id] = pending
        queries = [q for request in batch for q in request.queries]
        self.observer.batch_sent(len(queries))
        try:
            self.channel.send_batch(live, {'batch_id': batch_id, 'queries': queries, 'deadline': deadline,
                                           'reply_to': self.channel.replies(self.predictor_id)})
        except SingaError:
            with self._pending_lock:
                self._pending.pop(batch_id, None)
            raise

    def _live_trials(self) -> list:
        at, live = self._live
        now = time.monotonic()
        if now - at > LIVE_CACHE_SECONDS:
            live = self.channel.live_trials(self.trials)
            self._live = (now, live)
        return [t for t in self.trials if t in live]

    def _release(self) -> None:
        with self._cond:
            self._inflight -= 1
            self._cond.notify_all()

    # -- gathering -------------------------------------------------------------------------------

    def _listen_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                reply = self.channel.receive_replies(self.predictor_id, timeout=0.05)
            except SingaError as e:
                log.warning('reading replies failed: %s', e)
                self._stopped.wait(0.5)
                reply = None
            for reply in [reply] if reply is not None else []:
                with self._pending_lock:
                    pending = self._pending.get(reply.get('batch_id'))
                    if pending is None or str(reply.get('trial_id')) not in pending.expected:
                        continue
                    pending.replies[str(reply['trial_id'])] = reply
                    self.observer.model_answered(str(reply['trial_id']),
                                                 time.monotonic() - (pending.deadline - self.timeout))
                    complete = len(pending.replies) == len(pending.expected)
                    if complete:
                        del self._pending[pending.batch_id]
                if complete:
                    self._finish(pending)
            now = time.monotonic()
            with self._pending_lock:
                expired = [p for p in self._pending.values() if p.deadline <= now]
                for p in expired:
                    del self._pending[p.batch_id]
            for p in expired:
                self._finish(p)

    def _finish(self, pending: Pending) -> None:
        try:
            self._answer(pending)
        except Exception as e:  # noqa: BLE001 - a bad reply must not hang the requests
            log.exception('could not answer batch %s', pending.batch_id)
            self._fail(pending.requests, ServiceUnavailableError(f'the predictor failed: {e}'))
        finally:
            self._release()

    def _answer(self, pending: Pending) -> None:
        answered = [t for t in self.trials if t in pending.replies]
        if not answered:
            self._fail(pending.requests, ServiceUnavailableError(
                f'no model answered within {self.timeout:g} s', resource='predictor'))
            return
        offset = 0
        for request in pending.requests:
            n = len(request.queries)
            per_model, errors = [], {}
            for trial_id in answered:
                reply = pending.replies[trial_id]
                predictions = reply.get('predictions') or []
                bad = reply.get('errors') or {}
                answers = []
                for i in range(offset, offset + n):
                    if str(i) in bad or i >= len(predictions):
                        errors.setdefault(i - offset, []).append(
                            f'{self.names[trial_id]}: {bad.get(str(i), "no answer")}')
                        answers.append(MISSING)
                    else:
                        answers.append(predictions[i])
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
            request.error = error
            request.done.set()
