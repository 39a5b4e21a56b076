"""The two protocols that run over Redis. This module owns every key and every message.

Redis is for coordination only: nothing here is the only copy of anything that matters. Every
message is a JSON object; every blocking pop has a timeout > 0 (a pop that would wait forever
is refused); there is no polling with sleeps.

Key families (``J`` a train job, ``S`` one of its sub-jobs, ``I`` an inference job)::

    singa:tj:J:S:inbox          list   messages to the advisor of sub-job S (workers, admin)
    singa:tj:J:S:out:<worker>   list   the advisor's replies to one train worker
    singa:tj:J:S:leases         zset   trial id -> lease expiry (unix seconds)
    singa:ij:I:config           string the inference job: deployed trials, ensemble, task, public flag
    singa:ij:I:keys             set    sha256 of each live prediction key
    singa:ij:I:trial:<T>        string what the replicas of deployed trial T load (template, knobs, params)
    singa:ij:I:q:<T>            list   query batches for the replicas of trial T (they share the queue)
    singa:ij:I:alive:<T>        zset   replica id -> heartbeat expiry
    singa:ij:I:r:<P>            list   the replies to predictor process P

Everything of a job lives under ``singa:tj:J:`` or ``singa:ij:I:``, so one Redis ACL pattern
scopes a job's workers to their own keys (``job_acl_rules``).

**Tuning protocol.** Its messages are the classes below (``Hello``, ``Propose``...), each owning
its JSON form. A train worker sends requests to its advisor and waits for the reply that carries
the same ``req_id`` (stale replies are dropped; a request resent with the same ``req_id`` gets the
same answer). Requests:

- ``Hello`` -> ``JobSpec``: what the worker needs to run trials (template, datasets, train args).
- ``Propose`` (optionally carrying ``finished``: the result of the worker's previous trial, so
  that one round trip both ends a trial and starts the next) -> ``TrialAssignment``, ``Wait``
  (nothing to run now, ask again after ``seconds``) or ``Stop``.
- ``Report`` (an intermediate score) -> ``ReportReply`` (prune or not).

One-way messages: ``Logs`` (a batch of log lines of a running trial), ``Finished`` (a result sent
without asking for more), ``Bye`` (the worker exits); from the admin, ``StopSubJob`` (with its
cause) and ``WorkerLost`` (its container manager saw the worker gone).

**Serving protocol.** The predictor pushes each batch of queries, ``{batch_id, queries, reply_to,
deadline}``, onto the queue of every deployed trial; one replica of that trial pops it, predicts,
and pushes ``{batch_id, trial_id, predictions, errors}`` (``errors``: query index -> message for
the queries it could not predict) onto ``reply_to``. A batch whose deadline has passed is skipped.
Replicas renew a heartbeat, so the predictor knows which models are up and never waits for a
model with no live replica.

While a worker runs a trial it renews the trial's lease (``heartbeat``) every second. The advisor
treats an expired lease as a dead worker, and cancels a trial by marking it cancelled: the
worker's next heartbeat finds the mark and abandons the trial. A lease that is merely missing
(Redis restarted without its data) is granted again, by the worker's heartbeat and by the advisor.
"""
import json
import logging
import time
import uuid
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Iterable, Optional

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from singa.constants import TrialStatus
from singa.errors import ServiceUnavailableError
from singa.lifecycle import EndCause

log = logging.getLogger(__name__)

PREFIX = 'singa'
# Keys of a finished conversation expire on their own if nobody cleans them up.
REPLY_TTL_SECONDS = 3600
# The longest a blocking pop may wait (a longer one is refused, like one that would wait forever).
MAX_POP_SECONDS = 10.0
# Every reply from Redis is waited for at most this long. It is above the longest blocking pop, so
# no pop is cut short, and finite, so that a command on a half-open connection (a Redis that
# vanished without closing it: its host died, the network split) fails within seconds instead of
# waiting hours for TCP keep-alive to notice. Callers treat the failure like any Redis outage.
SOCKET_TIMEOUT_SECONDS = MAX_POP_SECONDS + 5.0


def make_redis(settings, *, decode: bool = False) -> redis.Redis:
    """A client for the settings' Redis (its ACL user when one is set). Does not connect yet.

    A command that finds its pooled connection broken (Redis restarted) is tried again at once on
    a new one, twice at most; a timeout is not retried: it is already ``SOCKET_TIMEOUT_SECONDS``."""
    return redis.Redis(host=settings.redis_host, port=settings.redis_port,
                       username=settings.redis_user or None,
                       password=settings.redis_password or None,
                       decode_responses=decode, socket_connect_timeout=5,
                       socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_keepalive=True,
                       retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2,
                                   supported_errors=(redis.ConnectionError,)),
                       health_check_interval=30)


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(',', ':'), allow_nan=False).encode()


def decode(raw) -> Optional[dict]:
    """The message in ``raw``, or None if it is not a JSON object (a malformed message is dropped)."""
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _check_timeout(timeout: float) -> float:
    if not timeout or not 0 < timeout <= MAX_POP_SECONDS:
        raise ValueError(f'blocking pops need a timeout > 0 and at most {MAX_POP_SECONDS:g} s; got {timeout!r}')
    return timeout


class translate_redis_errors:
    """``with translate_redis_errors(): ...`` turns redis-py errors into ``ServiceUnavailableError``."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if value is not None and isinstance(value, redis.RedisError):
            raise ServiceUnavailableError(f'redis: {value}', resource='redis') from value
        return False


def ping(r: redis.Redis) -> None:
    """``ServiceUnavailableError`` unless Redis answers."""
    with translate_redis_errors():
        r.ping()


def train_job_prefix(train_job_id) -> str:
    return f'{PREFIX}:tj:{train_job_id}:'


def inference_job_prefix(inference_job_id) -> str:
    return f'{PREFIX}:ij:{inference_job_id}:'


def job_acl_rules(prefix: str) -> list[str]:
    """ACL rules of a job-scoped Redis user: its own keys, the commands the protocols use."""
    return ['on', 'resetkeys', f'~{prefix}*', 'resetchannels', '-@all',
            '+ping', '+hello', '+auth', '+client|setname', '+select',
            '+lpush', '+rpush', '+brpop', '+blpop', '+rpop', '+lpop', '+llen', '+lrange', '+ltrim',
            '+zadd', '+zrem', '+zscore', '+zrangebyscore', '+zrange', '+zcount', '+zremrangebyscore',
            '+get', '+set', '+del', '+expire', '+pexpire', '+exists', '+sismember', '+smembers',
            '+sadd', '+srem', '+hset', '+hget', '+hgetall', '+hdel', '+multi', '+exec']


def ensure_job_user(r: redis.Redis, username: str, password_sha256: str, prefix: str) -> None:
    """Create or refresh the ACL user of a job (idempotent; the password is given as its hash)."""
    with translate_redis_errors():
        r.execute_command('ACL', 'SETUSER', username, 'reset', *job_acl_rules(prefix), f'#{password_sha256}')


def delete_job_user(r: redis.Redis, username: str) -> None:
    with translate_redis_errors():
        r.execute_command('ACL', 'DELUSER', username)


def delete_keys(r: redis.Redis, prefix: str) -> int:
    """Remove every key under ``prefix`` (a finished job's leftovers)."""
    removed = 0
    with translate_redis_errors():
        batch = []
        for key in r.scan_iter(match=prefix + '*', count=500):
            batch.append(key)
            if len(batch) >= 500:
                removed += r.delete(*batch)
                batch = []
        if batch:
            removed += r.delete(*batch)
    return removed


def list_lengths(r: redis.Redis, keys: list[str]) -> list[int]:
    """The length of each list (0 for a missing key), in one round trip: the depth of the queues
    whose names the channels below give (``TuningChannel.inbox``, ``ServingChannel.queue``)."""
    with translate_redis_errors():
        pipe = r.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        return [int(n) for n in pipe.execute()]


# -- the tuning messages ----------------------------------------------------------------------------

class _Message:
    """A message: a frozen dataclass that owns its JSON form.

    ``from_dict`` checks every field against ``_TYPES`` and raises ``ValueError`` for a message
    that does not fit, which the channel drops (a malformed message is never half read).
    """
    _TYPES: ClassVar[dict] = {}

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ValueError(f'a {cls.__name__} is a JSON object')
        values = {}
        for f in fields(cls):
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise ValueError(f'a {cls.__name__} needs {f.name!r}')
                continue
            value, kinds = data[f.name], cls._TYPES[f.name]
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise ValueError(f'{cls.__name__}.{f.name} has the wrong type')
            values[f.name] = value
        return cls(**values)


_NUMBER = (int, float)
_TEXT = (str, type(None))


class TuningMessage(_Message):
    """A message of the tuning protocol; its JSON form names its class by ``TYPE``."""
    TYPE: ClassVar[str] = ''

    def to_dict(self) -> dict:
        return {'type': self.TYPE, **super().to_dict()}


@dataclass(frozen=True, kw_only=True)
class TrialResult(_Message):
    """How a trial ended, as its worker saw it. ``score`` and ``params_id`` only for COMPLETED
    (``score`` also for PRUNED); ``logs``: the trial's last log lines."""
    trial_id: str
    status: TrialStatus
    score: Optional[float] = None
    params_id: Optional[str] = None
    error: Optional[str] = None
    logs: list = field(default_factory=list)
    _TYPES: ClassVar[dict] = {'trial_id': (str,), 'status': (str,), 'score': (*_NUMBER, type(None)),
                              'params_id': _TEXT, 'error': _TEXT, 'logs': (list,)}

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
    """Give me a trial; here is how my previous one ended (``finished``), if I had one."""
    TYPE: ClassVar[str] = 'propose'
    finished: Optional[TrialResult] = None
    _TYPES: ClassVar[dict] = {**_REQUEST_TYPES, 'finished': (dict, type(None))}

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
class WorkerLost(TuningMessage):
    """From the admin: the container manager saw this worker gone; its trials are lost."""
    TYPE: ClassVar[str] = 'worker_lost'
    worker_id: str
    _TYPES: ClassVar[dict] = {'worker_id': (str,)}


_TO_ADVISOR = {cls.TYPE: cls for cls in (Hello, Propose, Report, Logs, Finished, Bye, StopSubJob, WorkerLost)}


# The advisor's replies.

@dataclass(frozen=True, kw_only=True)
class JobSpec(TuningMessage):
    """What a worker needs to run the sub-job's trials: the template (its path under the storage
    root, class, file kind, module file, name and SHA-256), the datasets, the train arguments."""
    TYPE: ClassVar[str] = 'job'
    task: str
    model_path: str
    model_class: str
    file_kind: str
    module_file: Optional[str]
    model_name: str
    file_sha256: Optional[str]
    train_dataset: str
    val_dataset: str
    train_args: dict
    heartbeat_seconds: float
    _TYPES: ClassVar[dict] = {'task': (str,), 'model_path': (str,), 'model_class': (str,), 'file_kind': (str,),
                              'module_file': _TEXT, 'model_name': (str,), 'file_sha256': _TEXT,
                              'train_dataset': (str,), 'val_dataset': (str,), 'train_args': (dict,),
                              'heartbeat_seconds': _NUMBER}


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
    """The tuning message in ``raw`` (one of ``kinds``, by its type), or None (with a warning) when
    it is malformed."""
    data = decode(raw)
    kind = kinds.get(data.get('type')) if data is not None else None
    try:
        if kind is None:
            raise ValueError(f'unknown type {data.get("type") if data else None!r}')
        return kind.from_dict(data)
    except (ValueError, TypeError) as e:
        log.warning('dropped a malformed tuning message: %s', e)
        return None


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


class ServingChannel:
    """The serving protocol of one inference job, for its predictor, inference workers and admin."""

    def __init__(self, r: redis.Redis, inference_job_id):
        self.r = r
        self.prefix = inference_job_prefix(inference_job_id)
        self.config_key = self.prefix + 'config'
        self.keys_key = self.prefix + 'keys'

    def queue(self, trial_id) -> str:
        return f'{self.prefix}q:{trial_id}'

    def replies(self, predictor_id: str) -> str:
        return f'{self.prefix}r:{predictor_id}'

    # -- the admin writes what the job serves ----------------------------------------------------

    def publish(self, config: dict, trials: dict[str, dict], key_hashes: Iterable[str]) -> None:
        """Write the job's config, each trial's load spec and the prediction keys (idempotent)."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.set(self.config_key, encode(config))
            for trial_id, spec in trials.items():
                pipe.set(f'{self.prefix}trial:{trial_id}', encode(spec))
            pipe.delete(self.keys_key)
            hashes = list(key_hashes)
            if hashes:
                pipe.sadd(self.keys_key, *hashes)
            pipe.execute()

    def add_key(self, key_hash: str) -> None:
        with translate_redis_errors():
            self.r.sadd(self.keys_key, key_hash)

    def remove_key(self, key_hash: str) -> None:
        with translate_redis_errors():
            self.r.srem(self.keys_key, key_hash)

    # -- the predictor ----------------------------------------------------------------------------

    def config(self) -> Optional[dict]:
        with translate_redis_errors():
            raw = self.r.get(self.config_key)
        return decode(raw) if raw is not None else None

    def has_key(self, key_hash: str) -> bool:
        with translate_redis_errors():
            return bool(self.r.sismember(self.keys_key, key_hash))

    def send_batch(self, trial_ids: Iterable[str], batch: dict) -> None:
        """The same batch to one replica of every trial (one round trip)."""
        data = encode(batch)
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id in trial_ids:
                pipe.lpush(self.queue(trial_id), data)
            pipe.execute()

    def receive_replies(self, predictor_id: str, timeout: float) -> Optional[dict]:
        """The next reply to this predictor, or None after ``timeout`` s (one round trip)."""
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.replies(predictor_id)], timeout=timeout)
        return decode(popped[1]) if popped is not None else None

    def live_trials(self, trial_ids: Iterable[str], now: Optional[float] = None) -> set:
        """The trials with at least one replica whose heartbeat has not expired."""
        return {t for t, n in self.replica_counts(trial_ids, now).items() if n}

    def replica_counts(self, trial_ids: Iterable[str], now: Optional[float] = None) -> dict[str, int]:
        """Trial id -> how many of its replicas have a heartbeat that has not expired."""
        now = time.time() if now is None else now
        trial_ids = list(trial_ids)
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id in trial_ids:
                pipe.zcount(f'{self.prefix}alive:{trial_id}', now, '+inf')
            return {t: int(n) for t, n in zip(trial_ids, pipe.execute())}

    # -- inference workers ------------------------------------------------------------------------

    def trial_spec(self, trial_id) -> Optional[dict]:
        with translate_redis_errors():
            raw = self.r.get(f'{self.prefix}trial:{trial_id}')
        return decode(raw) if raw is not None else None

    def heartbeat(self, trial_id, replica_id: str, ttl: float) -> None:
        key = f'{self.prefix}alive:{trial_id}'
        now = time.time()
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.zadd(key, {replica_id: now + ttl})
            pipe.zremrangebyscore(key, '-inf', now - 60)
            pipe.execute()

    def leave(self, trial_id, replica_id: str) -> None:
        with translate_redis_errors():
            self.r.zrem(f'{self.prefix}alive:{trial_id}', replica_id)

    def next_batch(self, trial_id, timeout: float) -> Optional[dict]:
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.queue(trial_id)], timeout=timeout)
        return decode(popped[1]) if popped is not None else None

    def more_batches(self, trial_id, limit: int) -> list[dict]:
        """Batches already waiting for trial ``trial_id``, oldest first, without blocking."""
        with translate_redis_errors():
            raw = self.r.rpop(self.queue(trial_id), limit)
        return [m for m in (decode(x) for x in raw or []) if m is not None]

    def reply(self, reply_to: str, message: dict) -> None:
        if not reply_to.startswith(self.prefix):
            raise ValueError(f'reply key {reply_to!r} is outside this job')
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.lpush(reply_to, encode(message))
            pipe.expire(reply_to, 60)
            pipe.execute()

    def cleanup(self) -> None:
        delete_keys(self.r, self.prefix)


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
