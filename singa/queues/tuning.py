"""The tuning protocol: a sub-train job's advisor, its train workers, and the admin.

Its messages are the classes below (``Hello``, ``Propose``...), each owning its JSON form. A train worker sends requests to its advisor and waits for the reply that carries
the same ``req_id`` (stale replies are dropped; a request resent with the same ``req_id`` gets the
same answer). Requests:

- ``Hello`` -> ``JobSpec``: what the worker needs to run trials (template, datasets, train args).
- ``Propose`` (optionally carrying ``finished``: the result of the worker's previous trial, so
  that one round trip both ends a trial and starts the next) -> ``TrialAssignment``, ``Wait``
  (nothing to run now, ask again after ``seconds``) or ``Stop``.
- ``Report`` (an intermediate score) -> ``ReportReply`` (prune or not).

One-way messages: ``Logs`` (a batch of log lines of a running trial), ``Finished`` (a result sent
without asking for more), ``Bye`` (the worker exits); from the admin, ``StopSubJob`` (with its
cause), ``BudgetChanged`` (the job's budget was changed while it runs) and ``WorkerLost`` (its
container manager saw the worker gone).

While a worker runs a trial it renews the trial's lease (``heartbeat``) every second. The advisor
treats an expired lease as a dead worker, and cancels a trial by marking it cancelled: the
worker's next heartbeat finds the mark and abandons the trial. A lease that is merely missing
(Redis restarted without its data) is granted again, by the worker's heartbeat and by the advisor.
"""
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Optional

import redis

from singa.constants import TrialStatus
from singa.lifecycle import EndCause
from singa.queues.base import (REPLY_TTL_SECONDS, _check_timeout, _Message, _NUMBER, _read, _TEXT, decode,
                               delete_keys, encode, train_job_prefix, translate_redis_errors)

log = logging.getLogger(__name__)


class TuningMessage(_Message):
    """A message of the tuning protocol; its JSON form names its class by ``TYPE``."""
    TYPE: ClassVar[str] = ''

    def to_dict(self) -> dict:
        return {'type': self.TYPE, **super().to_dict()}


@dataclass(frozen=True, kw_only=True)
class TrialResult(_Message):
    """How a trial ended, as its worker saw it. ``score`` and ``params_id`` only for COMPLETED
    (``score`` also for PRUNED); ``params_bytes``: the size of the saved parameters, as encoded;
    ``metrics``: a COMPLETED trial's named metrics (what ``evaluate()`` named, and
    ``predict_latency_ms`` as measured); ``logs``: the trial's last log lines."""
    trial_id: str
    status: TrialStatus
    score: Optional[float] = None
    params_id: Optional[str] = None
    error: Optional[str] = None
    logs: list = field(default_factory=list)
    params_bytes: Optional[int] = None
    metrics: Optional[dict] = None
    _TYPES: ClassVar[dict] = {'trial_id': (str,), 'status': (str,), 'score': (*_NUMBER, type(None)),
                              'params_id': _TEXT, 'error': _TEXT, 'logs': (list,), 'params_bytes': (int, type(None)),
                              'metrics': (dict, type(None))}

    @classmethod
    def from_dict(cls, data) -> 'TrialResult':
        result = super().from_dict(data)
        return cls(**{**result.__dict__, 'status': TrialStatus(result.status)})


# Requests from a train worker. Each carries the worker's id and its service's, and a ``req_id``
# fixed when it is made, so that a request sent again is known for the same one.

@dataclass(frozen=True, kw_only=True)
class _Request(TuningMessage):
    worker_id: str
    service_id: str = ''
    req_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_REQUEST_TYPES = {'worker_id': (str,), 'service_id': (str,), 'req_id': (str,)}


@dataclass(frozen=True, kw_only=True)
class Hello(_Request):
    TYPE: ClassVar[str] = 'hello'
    _TYPES: ClassVar[dict] = _REQUEST_TYPES


@dataclass(frozen=True, kw_only=True)
class Propose(_Request):
    """Give me a trial; here is how my previous one ended (``finished``), if I had one. With
    ``wants_trial`` False: only record ``finished`` (the answer, ``Wait`` or ``Stop``, comes once it
    is recorded: a worker holding one of the job's trial slots gives it back only then)."""
    TYPE: ClassVar[str] = 'propose'
    finished: Optional[TrialResult] = None
    wants_trial: bool = True
    _TYPES: ClassVar[dict] = {**_REQUEST_TYPES, 'finished': (dict, type(None)), 'wants_trial': (bool,)}

    def to_dict(self) -> dict:
        return {**super().to_dict(), 'finished': self.finished and self.finished.to_dict()}

    @classmethod
    def from_dict(cls, data) -> 'Propose':
        message = super().from_dict(data)
        finished = message.finished and TrialResult.from_dict(message.finished)
        return cls(**{**message.__dict__, 'finished': finished})


@dataclass(frozen=True, kw_only=True)
class Report(_Request):
    """An intermediate score of a running trial (the advisor may answer: prune it)."""
    TYPE: ClassVar[str] = 'report'
    trial_id: str
    step: int
    score: float
    _TYPES: ClassVar[dict] = {**_REQUEST_TYPES, 'trial_id': (str,), 'step': (int,), 'score': _NUMBER}


# One-way messages to the advisor.

@dataclass(frozen=True, kw_only=True)
class Logs(TuningMessage):
    TYPE: ClassVar[str] = 'logs'
    worker_id: str
    trial_id: str
    lines: list
    _TYPES: ClassVar[dict] = {'worker_id': (str,), 'trial_id': (str,), 'lines': (list,)}


@dataclass(frozen=True, kw_only=True)
class Finished(TuningMessage):
    """A trial's result sent without asking for another (the worker is stopping)."""
    TYPE: ClassVar[str] = 'finished'
    worker_id: str
    result: TrialResult
    _TYPES: ClassVar[dict] = {'worker_id': (str,), 'result': (dict,)}

    def to_dict(self) -> dict:
        return {**super().to_dict(), 'result': self.result.to_dict()}

    @classmethod
    def from_dict(cls, data) -> 'Finished':
        message = super().from_dict(data)
        return cls(worker_id=message.worker_id, result=TrialResult.from_dict(message.result))


@dataclass(frozen=True, kw_only=True)
class Bye(TuningMessage):
    TYPE: ClassVar[str] = 'bye'
    worker_id: str
    _TYPES: ClassVar[dict] = {'worker_id': (str,)}


@dataclass(frozen=True, kw_only=True)
class StopSubJob(TuningMessage):
    """From the admin: end the sub-job now, for ``cause``."""
    TYPE: ClassVar[str] = 'stop_sub_job'
    cause: EndCause
    _TYPES: ClassVar[dict] = {'cause': (str,)}

    @classmethod
    def from_dict(cls, data) -> 'StopSubJob':
        return cls(cause=EndCause(super().from_dict(data).cause))


@dataclass(frozen=True, kw_only=True)
class BudgetChanged(TuningMessage):
    """From the admin: the job's budget changed; read it again."""
    TYPE: ClassVar[str] = 'budget_changed'
    _TYPES: ClassVar[dict] = {}


@dataclass(frozen=True, kw_only=True)
class WorkerLost(TuningMessage):
    """From the admin: the container manager saw this worker gone; its trials are lost."""
    TYPE: ClassVar[str] = 'worker_lost'
    worker_id: str
    _TYPES: ClassVar[dict] = {'worker_id': (str,)}


_TO_ADVISOR = {cls.TYPE: cls for cls in (Hello, Propose, Report, Logs, Finished, Bye, StopSubJob, WorkerLost,
                                          BudgetChanged)}


# The advisor's replies.

@dataclass(frozen=True, kw_only=True)
class JobSpec(TuningMessage):
    """What a worker needs to run the sub-job's trials: the template (its path under the storage
    root, class, file kind, module file, name, SHA-256 and the key of its dependencies'
    environment, ``singa.envs``), the datasets, the train arguments, and the job's cap on trials
    running at once across its templates (None: none) and its trials' lease."""
    TYPE: ClassVar[str] = 'job'
    task: str
    model_path: str
    model_class: str
    file_kind: str
    module_file: Optional[str]
    model_name: str
    file_sha256: Optional[str]
    env: Optional[str] = None
    train_dataset: str
    val_dataset: str
    train_args: dict
    heartbeat_seconds: float
    max_concurrent_trials: Optional[int] = None     # the job's cap across its templates (``TrialSlots``)
    lease_seconds: float = 30.0                     # a trial's lease (``TrialAssignment.lease_seconds``)
    _TYPES: ClassVar[dict] = {'task': (str,), 'model_path': (str,), 'model_class': (str,), 'file_kind': (str,),
                              'module_file': _TEXT, 'model_name': (str,), 'file_sha256': _TEXT, 'env': _TEXT,
                              'train_dataset': (str,), 'val_dataset': (str,), 'train_args': (dict,),
                              'heartbeat_seconds': _NUMBER, 'max_concurrent_trials': (int, type(None)),
                              'lease_seconds': _NUMBER}


@dataclass(frozen=True, kw_only=True)
class TrialAssignment(TuningMessage):
    """Run this trial, renewing its lease for ``lease_seconds`` at each heartbeat."""
    TYPE: ClassVar[str] = 'trial'
    trial_id: str
    trial_no: int
    knobs: dict
    meta: dict = field(default_factory=dict)
    shared_params_id: Optional[str] = None
    to_save_params: bool = True
    lease_seconds: float
    _TYPES: ClassVar[dict] = {'trial_id': (str,), 'trial_no': (int,), 'knobs': (dict,), 'meta': (dict,),
                              'shared_params_id': _TEXT, 'to_save_params': (bool,), 'lease_seconds': _NUMBER}


@dataclass(frozen=True, kw_only=True)
class Wait(TuningMessage):
    """Nothing to run now; ask again after ``seconds``."""
    TYPE: ClassVar[str] = 'wait'
    seconds: float
    _TYPES: ClassVar[dict] = {'seconds': _NUMBER}


@dataclass(frozen=True, kw_only=True)
class Stop(TuningMessage):
    """The sub-job has ended (``reason`` says why, for the worker's log): exit."""
    TYPE: ClassVar[str] = 'stop'
    reason: str = ''
    _TYPES: ClassVar[dict] = {'reason': (str,)}


@dataclass(frozen=True, kw_only=True)
class ReportReply(TuningMessage):
    TYPE: ClassVar[str] = 'report_reply'
    prune: bool
    reason: str = ''
    _TYPES: ClassVar[dict] = {'prune': (bool,), 'reason': (str,)}


_TO_WORKER = {cls.TYPE: cls for cls in (JobSpec, TrialAssignment, Wait, Stop, ReportReply)}


def _read_tuning(raw, kinds: dict) -> Optional[TuningMessage]:
    """The tuning message in ``raw``, of the one of ``kinds`` its ``type`` names; None (with a
    warning) when it is malformed."""
    data = decode(raw)
    kind = kinds.get(data.get('type')) if data is not None else None
    if kind is None:
        log.warning('dropped a tuning message of no known type: %.200r', raw)
        return None
    return _read(kind, raw)


# -- the tuning channel -----------------------------------------------------------------------------

class TuningChannel:
    """The tuning protocol of one sub-train job, for its advisor, its train workers and the admin."""

    def __init__(self, r: redis.Redis, train_job_id, sub_job_id):
        self.r = r
        self.prefix = f'{train_job_prefix(train_job_id)}{sub_job_id}:'
        self.inbox = self.prefix + 'inbox'
        self.leases = self.prefix + 'leases'
        self.cancelled = self.prefix + 'cancelled'

    def outbox(self, worker_id: str) -> str:
        return f'{self.prefix}out:{worker_id}'

    # -- worker side (and the admin's one-way messages) -----------------------------------------

    def send(self, message: TuningMessage) -> None:
        """A one-way message to the advisor."""
        with translate_redis_errors():
            self.r.lpush(self.inbox, encode(message.to_dict()))

    def request(self, request: _Request, timeout: float) -> Optional[TuningMessage]:
        """Send ``request`` to the advisor and wait up to ``timeout`` s for its reply.

        Returns None on timeout. Replies to earlier requests that arrive late are dropped."""
        _check_timeout(timeout)
        outbox = self.outbox(request.worker_id)
        deadline = time.monotonic() + timeout
        with translate_redis_errors():
            self.r.lpush(self.inbox, encode(request.to_dict()))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                popped = self.r.brpop([outbox], timeout=max(left, 0.01))
                if popped is None:
                    return None
                data = decode(popped[1])
                if data is not None and data.get('req_id') == request.req_id:
                    return _read_tuning(popped[1], _TO_WORKER)

    def heartbeat(self, trial_id: str, lease_seconds: float) -> bool:
        """Renew a trial's lease (granting it again if Redis lost it); False when the trial was
        cancelled (the advisor ended it, or presumed this worker dead)."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.sismember(self.cancelled, str(trial_id))
            pipe.zadd(self.leases, {str(trial_id): time.time() + lease_seconds})
            cancelled, _ = pipe.execute()
            if cancelled:
                self.r.zrem(self.leases, str(trial_id))
        return not cancelled

    # -- advisor side -----------------------------------------------------------------------------

    def receive(self, timeout: float) -> Optional[TuningMessage]:
        """The next message for the advisor, or None after ``timeout`` s (or when it is malformed)."""
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.inbox], timeout=timeout)
        return _read_tuning(popped[1], _TO_ADVISOR) if popped is not None else None

    def put_back(self, message: TuningMessage) -> None:
        """Return a message to the front of the inbox, to be received again next."""
        with translate_redis_errors():
            self.r.rpush(self.inbox, encode(message.to_dict()))

    def drain(self, limit: int = 100) -> list[TuningMessage]:
        """Messages already waiting, without blocking (at most ``limit``)."""
        with translate_redis_errors():
            raw = self.r.rpop(self.inbox, limit)
        return [m for m in (_read_tuning(x, _TO_ADVISOR) for x in raw or []) if m is not None]

    def reply(self, request: _Request, reply: TuningMessage) -> None:
        outbox = self.outbox(request.worker_id)
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.lpush(outbox, encode({**reply.to_dict(), 'req_id': request.req_id}))
            pipe.expire(outbox, REPLY_TTL_SECONDS)
            pipe.execute()

    def grant_leases(self, trial_ids: Iterable[str], lease_seconds: float) -> None:
        """Grant (or grant again) the leases of ``trial_ids``, expiring ``lease_seconds`` from now."""
        expiry = time.time() + lease_seconds
        leases = {str(t): expiry for t in trial_ids}
        if leases:
            with translate_redis_errors():
                self.r.zadd(self.leases, leases)

    def release_lease(self, trial_id) -> None:
        """End a finished trial's lease."""
        with translate_redis_errors():
            self.r.zrem(self.leases, str(trial_id))

    def cancel(self, trial_id) -> None:
        """End a running trial's lease and mark it cancelled: its worker's next heartbeat sees the
        mark and abandons the trial."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.sadd(self.cancelled, str(trial_id))
            pipe.expire(self.cancelled, REPLY_TTL_SECONDS)
            pipe.zrem(self.leases, str(trial_id))
            pipe.execute()

    def live_leases(self) -> dict[str, float]:
        """Trial id -> lease expiry (unix seconds), of every lease held."""
        with translate_redis_errors():
            return {k.decode() if isinstance(k, bytes) else k: s
                    for k, s in self.r.zrange(self.leases, 0, -1, withscores=True)}

    def mark_done(self) -> None:
        """Tell workers whose requests go unanswered that the sub-job has ended."""
        with translate_redis_errors():
            self.r.set(self.prefix + 'done', b'1', ex=REPLY_TTL_SECONDS)

    def is_done(self) -> bool:
        with translate_redis_errors():
            return bool(self.r.exists(self.prefix + 'done'))

    def cleanup(self) -> None:
        delete_keys(self.r, self.prefix)


def tell_advisors_budget_changed(r: redis.Redis, train_job_id, sub_job_ids: Iterable) -> None:
    """The admin's side of a live budget change: one ``BudgetChanged`` to each sub-job's advisor."""
    for sub_job_id in sub_job_ids:
        TuningChannel(r, train_job_id, sub_job_id).send(BudgetChanged())


def stop_advisors(r: redis.Redis, train_job_id, sub_job_ids: Iterable, cause: EndCause) -> None:
    """The admin's side of ending sub-jobs: one ``StopSubJob`` to each one's advisor."""
    for sub_job_id in sub_job_ids:
        TuningChannel(r, train_job_id, sub_job_id).send(StopSubJob(cause=cause))


def new_worker_id(service_id: Any, task_id: str = '') -> str:
    """A worker's id: its service's and its task's (one start of one replica, as named by the
    container manager; a restarted worker never reads its predecessor's replies), or a random
    one for a worker no manager started."""
    return f'{service_id}/{task_id or uuid.uuid4().hex[:12]}'


def worker_task(worker_id: str) -> tuple[str, str]:
    """(service id, task id) of a worker id made by ``new_worker_id``."""
    service_id, _, task_id = str(worker_id).partition('/')
    return service_id, task_id
