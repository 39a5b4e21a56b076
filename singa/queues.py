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
    singa:ij:I:predictors       zset   predictor id -> heartbeat expiry (renewed while it is healthy)
    singa:ij:I:r:<P>            list   the replies to predictor process P

Everything of a job lives under ``singa:tj:J:`` or ``singa:ij:I:``, so one Redis ACL pattern
scopes a job's workers to their own keys (``job_acl_rules``).

**Tuning protocol.** A train worker sends requests to its advisor and waits for the reply that
carries the same ``req_id`` (stale replies are dropped). Requests:

- ``hello`` -> ``job``: what the worker needs to run trials (template, datasets, train args).
- ``propose`` (optionally carrying ``finished``: the result of the worker's previous trial, so
  that one round trip both ends a trial and starts the next) -> ``trial`` (id, no, knobs, ...),
  ``wait`` (nothing to run now, ask again after ``seconds``) or ``stop``.
- ``report`` (an intermediate score) -> ``report`` with ``prune`` true or false.

One-way messages: ``logs`` (a batch of log lines of a running trial), ``finished`` (a result
sent without asking for more), ``bye`` (the worker exits), and from the admin ``stop``.

**Serving protocol.** The admin publishes a ``ServingConfig`` (the deployed trials, the ensemble,
the task) and one ``TrialSpec`` per trial. The predictor pushes each ``Batch`` of queries onto the
queue of every deployed trial; one replica of that trial pops it, predicts, and pushes a ``Reply``
(``errors``: query index -> message for the queries it could not predict) onto ``reply_to``. A
batch whose deadline has passed is skipped. Replicas renew a heartbeat, so the predictor knows
which models are up and never waits for a model with no live replica. A batch that a replica took
and did not answer in time is sent again (same bytes, same ``batch_id``) to the front of its
trial's queue; the predictor keeps the first reply of each trial. The predictor renews a heartbeat
of its own while its threads are healthy, which the admin reads before it calls a job RUNNING.

While a worker runs a trial it renews the trial's lease (``heartbeat``). The advisor treats an
expired lease as a dead worker, and cancels a trial by deleting its lease: the worker's next
heartbeat finds the lease gone and abandons the trial.
"""
import json
import logging
import time
import uuid
from dataclasses import MISSING, dataclass, fields, replace
from typing import Any, ClassVar, Iterable, Optional

import redis

from singa.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

PREFIX = 'singa'
# Keys of a finished conversation expire on their own if nobody cleans them up.
REPLY_TTL_SECONDS = 3600


def make_redis(settings, *, decode: bool = False) -> redis.Redis:
    """A client for the settings' Redis (its ACL user when one is set). Does not connect yet."""
    return redis.Redis(host=settings.redis_host, port=settings.redis_port,
                       username=settings.redis_user or None,
                       password=settings.redis_password or None,
                       decode_responses=decode, socket_connect_timeout=5,
                       socket_keepalive=True, health_check_interval=30)


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
    if not timeout or timeout <= 0:
        raise ValueError('blocking pops need a timeout > 0')
    return timeout


class translate_redis_errors:
    """``with translate_redis_errors(): ...`` turns redis-py errors into ``ServiceUnavailableError``."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if value is not None and isinstance(value, redis.RedisError):
            raise ServiceUnavailableError(f'redis: {value}', resource='redis') from value
        return False


def train_job_prefix(train_job_id) -> str:
    return f'{PREFIX}:tj:{train_job_id}:'


def inference_job_prefix(inference_job_id) -> str:
    return f'{PREFIX}:ij:{inference_job_id}:'


def job_acl_rules(prefix: str) -> list[str]:
    """ACL rules of a job-scoped Redis user: its own keys, the commands the protocols use."""
    return ['on', 'resetkeys', f'~{prefix}*', 'resetchannels', '-@all',
            '+ping', '+hello', '+auth', '+client|setname', '+select',
            '+lpush', '+rpush', '+brpop', '+blpop', '+rpop', '+lpop', '+llen', '+lrange', '+ltrim', '+lpos',
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


class TuningChannel:
    """The tuning protocol of one sub-train job, for both its advisor and its train workers."""

    def __init__(self, r: redis.Redis, train_job_id, sub_job_id):
        self.r = r
        self.prefix = f'{train_job_prefix(train_job_id)}{sub_job_id}:'
        self.inbox = self.prefix + 'inbox'
        self.leases = self.prefix + 'leases'

    def outbox(self, worker_id: str) -> str:
        return f'{self.prefix}out:{worker_id}'

    # -- worker side -------------------------------------------------------------------------

    def send(self, message: dict) -> None:
        """A one-way message to the advisor."""
        with translate_redis_errors():
            self.r.lpush(self.inbox, encode(message))

    def request(self, worker_id: str, message: dict, timeout: float) -> Optional[dict]:
        """Send ``message`` to the advisor and wait up to ``timeout`` s for the matching reply.

        Returns None on timeout. Replies to earlier requests that arrive late are dropped.
        """
        _check_timeout(timeout)
        req_id = message.setdefault('req_id', uuid.uuid4().hex)
        message['worker_id'] = worker_id
        outbox = self.outbox(worker_id)
        deadline = time.monotonic() + timeout
        with translate_redis_errors():
            self.r.lpush(self.inbox, encode(message))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                popped = self.r.brpop([outbox], timeout=max(left, 0.01))
                if popped is None:
                    return None
                reply = decode(popped[1])
                if reply is not None and reply.get('req_id') == req_id:
                    return reply

    def heartbeat(self, trial_id: str, lease_seconds: float) -> bool:
        """Renew a trial's lease; False when the lease is gone (the trial was cancelled or expired)."""
        with translate_redis_errors():
            changed = self.r.zadd(self.leases, {str(trial_id): time.time() + lease_seconds}, xx=True, ch=True)
        return bool(changed)

    # -- advisor side ------------------------------------------------------------------------

    def receive(self, timeout: float) -> Optional[dict]:
        """The next message for the advisor, or None after ``timeout`` s (malformed ones are dropped)."""
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.inbox], timeout=timeout)
        if popped is None:
            return None
        message = decode(popped[1])
        return message if message is not None else {'type': 'malformed'}

    def drain(self, limit: int = 100) -> list[dict]:
        """Messages already waiting, without blocking (at most ``limit``)."""
        with translate_redis_errors():
            raw = self.r.rpop(self.inbox, limit)
        return [m for m in (decode(x) for x in raw or []) if m is not None]

    def reply(self, worker_id: str, request: dict, message: dict) -> None:
        message['req_id'] = request.get('req_id')
        outbox = self.outbox(worker_id)
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.lpush(outbox, encode(message))
            pipe.expire(outbox, REPLY_TTL_SECONDS)
            pipe.execute()

    def grant_lease(self, trial_id, lease_seconds: float) -> None:
        with translate_redis_errors():
            self.r.zadd(self.leases, {str(trial_id): time.time() + lease_seconds})

    def release_lease(self, trial_id) -> None:
        """End a lease (trial finished, or cancelled: the worker's next heartbeat then fails)."""
        with translate_redis_errors():
            self.r.zrem(self.leases, str(trial_id))

    def live_leases(self) -> dict[str, float]:
        with translate_redis_errors():
            return {k.decode() if isinstance(k, bytes) else k: s
                    for k, s in self.r.zrange(self.leases, 0, -1, withscores=True)}

    def expired_leases(self, now: Optional[float] = None) -> list[str]:
        now = time.time() if now is None else now
        with translate_redis_errors():
            found = self.r.zrangebyscore(self.leases, '-inf', now)
        return [k.decode() if isinstance(k, bytes) else k for k in found]

    def mark_done(self) -> None:
        """Tell workers whose requests go unanswered that the sub-job has ended."""
        with translate_redis_errors():
            self.r.set(self.prefix + 'done', b'1', ex=REPLY_TTL_SECONDS)

    def is_done(self) -> bool:
        with translate_redis_errors():
            return bool(self.r.exists(self.prefix + 'done'))

    def cleanup(self) -> None:
        delete_keys(self.r, self.prefix)


# -- the serving messages ---------------------------------------------------------------------------

class _Message:
    """A message of the serving protocol: a frozen dataclass that owns its JSON form.

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


@dataclass(frozen=True)
class ServedTrial(_Message):
    """One deployed trial, as the predictor sees it."""
    trial_id: str
    model_name: str = ''
    score: Optional[float] = None
    replicas: int = 1
    _TYPES: ClassVar[dict] = {'trial_id': (str,), 'model_name': (str,), 'score': (*_NUMBER, type(None)),
                              'replicas': (int,)}


@dataclass(frozen=True)
class ServingConfig(_Message):
    """What the admin publishes for a job's predictor (``max_*`` None: the predictor's settings)."""
    trials: tuple          # of ServedTrial
    ensemble: str = 'AUTO'
    task: str = ''
    is_public: bool = False
    max_batch_size: Optional[int] = None
    max_wait_ms: Optional[float] = None
    _TYPES: ClassVar[dict] = {'trials': (list,), 'ensemble': (str,), 'task': (str,), 'is_public': (bool,),
                              'max_batch_size': (int, type(None)), 'max_wait_ms': (*_NUMBER, type(None))}

    def to_dict(self) -> dict:
        return {**super().to_dict(), 'trials': [t.to_dict() for t in self.trials]}

    @classmethod
    def from_dict(cls, data) -> 'ServingConfig':
        config = super().from_dict(data)
        return replace(config, trials=tuple(ServedTrial.from_dict(t) for t in config.trials))


@dataclass(frozen=True)
class TrialSpec(_Message):
    """What the replicas of one deployed trial load: the template (its path under the storage
    root, class, file kind, module file name, the SHA-256 recorded at upload and the key of its
    dependencies' environment, ``singa.envs``), the trial's knobs and its parameters' id."""
    model_path: str
    model_class: str
    knobs: dict
    params_id: str
    file_kind: str = 'py'
    module_file: Optional[str] = None
    sha256: Optional[str] = None
    env: Optional[str] = None
    _TYPES: ClassVar[dict] = {'model_path': (str,), 'model_class': (str,), 'knobs': (dict,), 'params_id': (str,),
                              'file_kind': (str,), 'module_file': (str, type(None)), 'sha256': (str, type(None)),
                              'env': (str, type(None))}

    def to_dict(self) -> dict:
        return {'model': {'path': self.model_path, 'class': self.model_class, 'kind': self.file_kind,
                          'module_file': self.module_file, 'sha256': self.sha256, 'env': self.env},
                'knobs': self.knobs, 'params_id': self.params_id}

    @classmethod
    def from_dict(cls, data) -> 'TrialSpec':
        model = data.get('model') if isinstance(data, dict) else None
        if not isinstance(model, dict):
            raise ValueError('a TrialSpec needs its model')
        return super().from_dict({'model_path': model.get('path'), 'model_class': model.get('class'),
                                  'file_kind': model.get('kind', 'py'), 'module_file': model.get('module_file'),
                                  'sha256': model.get('sha256'), 'env': model.get('env'),
                                  'knobs': data.get('knobs'), 'params_id': data.get('params_id')})


@dataclass(frozen=True)
class Batch(_Message):
    """Queries for one replica of a trial; the reply goes to ``reply_to`` before ``deadline`` (unix s)."""
    batch_id: str
    queries: list
    reply_to: str
    deadline: float
    _TYPES: ClassVar[dict] = {'batch_id': (str,), 'queries': (list,), 'reply_to': (str,), 'deadline': _NUMBER}


@dataclass(frozen=True)
class Reply(_Message):
    """A replica's answers to a batch: one prediction per query (None where it failed) and
    ``errors``, query index (as a string) -> why that query failed."""
    batch_id: str
    trial_id: str
    replica_id: str
    predictions: list
    errors: dict
    _TYPES: ClassVar[dict] = {'batch_id': (str,), 'trial_id': (str,), 'replica_id': (str,), 'predictions': (list,),
                              'errors': (dict,)}


def _read(kind, raw) -> Optional[Any]:
    """The ``kind`` message in ``raw``, or None (and a warning) when it is missing or malformed."""
    if raw is None:
        return None
    try:
        return kind.from_dict(decode(raw))
    except ValueError as e:
        log.warning('dropped a malformed %s message: %s', kind.__name__, e)
        return None


class ServingChannel:
    """The serving protocol of one inference job, for its predictor, inference workers and admin."""

    def __init__(self, r: redis.Redis, inference_job_id):
        self.r = r
        self.prefix = inference_job_prefix(inference_job_id)
        self.config_key = self.prefix + 'config'
        self.keys_key = self.prefix + 'keys'
        self.predictors_key = self.prefix + 'predictors'

    def queue(self, trial_id) -> str:
        return f'{self.prefix}q:{trial_id}'

    def replies(self, predictor_id: str) -> str:
        return f'{self.prefix}r:{predictor_id}'

    # -- the admin writes what the job serves ----------------------------------------------------

    def publish(self, config: ServingConfig, specs: dict[str, TrialSpec], key_hashes: Iterable[str]) -> None:
        """Write the job's config, each trial's load spec and the prediction keys (idempotent)."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.set(self.config_key, encode(config.to_dict()))
            for trial_id, spec in specs.items():
                pipe.set(f'{self.prefix}trial:{trial_id}', encode(spec.to_dict()))
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

    def config(self) -> Optional[ServingConfig]:
        with translate_redis_errors():
            raw = self.r.get(self.config_key)
        return _read(ServingConfig, raw)

    def has_key(self, key_hash: str) -> bool:
        with translate_redis_errors():
            return bool(self.r.sismember(self.keys_key, key_hash))

    def send_batch(self, trial_ids: Iterable[str], batch: Batch) -> bytes:
        """The same batch to one replica of every trial (one round trip). Returns its wire form,
        which ``resend`` and ``still_queued`` take."""
        data = encode(batch.to_dict())
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id in trial_ids:
                pipe.lpush(self.queue(trial_id), data)
            pipe.execute()
        return data

    def resend(self, sends: list[tuple[str, bytes]]) -> None:
        """Put each ``(trial id, wire form)`` back at the front of its trial's queue (popped next)."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id, data in sends:
                pipe.rpush(self.queue(trial_id), data)
            pipe.execute()

    def still_queued(self, sent: list[tuple[str, bytes]]) -> list[bool]:
        """For each ``(trial id, wire form)``: whether the batch still waits in its trial's queue
        (no replica has taken it yet). One round trip."""
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id, data in sent:
                pipe.lpos(self.queue(trial_id), data)
            return [position is not None for position in pipe.execute()]

    def receive_reply(self, predictor_id: str, timeout: float) -> Optional[Reply]:
        """The next reply to this predictor, or None after ``timeout`` s (one round trip)."""
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.replies(predictor_id)], timeout=timeout)
        return _read(Reply, popped[1]) if popped is not None else None

    def live_replicas(self, trial_ids: Iterable[str], now: Optional[float] = None) -> dict[str, set]:
        """Trial id -> the ids of its replicas whose heartbeat has not expired (one round trip)."""
        now = time.time() if now is None else now
        trial_ids = list(trial_ids)
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            for trial_id in trial_ids:
                pipe.zrangebyscore(f'{self.prefix}alive:{trial_id}', now, '+inf')
            found = pipe.execute()
        return {t: {r.decode() if isinstance(r, bytes) else r for r in ids} for t, ids in zip(trial_ids, found)}

    def live_trials(self, trial_ids: Iterable[str], now: Optional[float] = None) -> set:
        """The trials with at least one replica whose heartbeat has not expired."""
        return {t for t, replicas in self.live_replicas(trial_ids, now).items() if replicas}

    def replica_counts(self, trial_ids: Iterable[str], now: Optional[float] = None) -> dict[str, int]:
        """Trial id -> how many of its replicas have a heartbeat that has not expired."""
        return {t: len(replicas) for t, replicas in self.live_replicas(trial_ids, now).items()}

    def predictor_heartbeat(self, predictor_id: str, ttl: float) -> None:
        _beat(self.r, self.predictors_key, predictor_id, ttl)

    def live_predictors(self, now: Optional[float] = None) -> int:
        """How many predictor processes of the job said they are healthy within their heartbeat."""
        with translate_redis_errors():
            return self.r.zcount(self.predictors_key, time.time() if now is None else now, '+inf')

    # -- inference workers ------------------------------------------------------------------------

    def trial_spec(self, trial_id) -> Optional[TrialSpec]:
        with translate_redis_errors():
            raw = self.r.get(f'{self.prefix}trial:{trial_id}')
        return _read(TrialSpec, raw)

    def heartbeat(self, trial_id, replica_id: str, ttl: float) -> None:
        _beat(self.r, f'{self.prefix}alive:{trial_id}', replica_id, ttl)

    def leave(self, trial_id, replica_id: str) -> None:
        with translate_redis_errors():
            self.r.zrem(f'{self.prefix}alive:{trial_id}', replica_id)

    def next_batch(self, trial_id, timeout: float) -> Optional[Batch]:
        """The oldest batch for trial ``trial_id``, or None after ``timeout`` s (or if malformed)."""
        _check_timeout(timeout)
        with translate_redis_errors():
            popped = self.r.brpop([self.queue(trial_id)], timeout=timeout)
        return _read(Batch, popped[1]) if popped is not None else None

    def more_batches(self, trial_id, limit: int) -> list[Batch]:
        """Batches already waiting for trial ``trial_id``, oldest first, without blocking."""
        with translate_redis_errors():
            raw = self.r.rpop(self.queue(trial_id), limit)
        return [b for b in (_read(Batch, x) for x in raw or []) if b is not None]

    def reply(self, reply_to: str, reply: Reply) -> None:
        if not reply_to.startswith(self.prefix):
            raise ValueError(f'reply key {reply_to!r} is outside this job')
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.lpush(reply_to, encode(reply.to_dict()))
            pipe.expire(reply_to, 60)
            pipe.execute()

    def cleanup(self) -> None:
        delete_keys(self.r, self.prefix)


def _beat(r: redis.Redis, key: str, member: str, ttl: float) -> None:
    """Renew ``member``'s heartbeat in the zset ``key`` (and drop members long expired)."""
    now = time.time()
    with translate_redis_errors():
        pipe = r.pipeline(transaction=False)
        pipe.zadd(key, {member: now + ttl})
        pipe.zremrangebyscore(key, '-inf', now - 60)
        pipe.execute()


def stop_advisors(r: redis.Redis, train_job_id, sub_job_ids: Iterable, reason: str = 'stopped by user') -> None:
    """The admin's side of stopping a train job: one ``stop`` message to each sub-job's advisor."""
    for sub_job_id in sub_job_ids:
        TuningChannel(r, train_job_id, sub_job_id).send({'type': 'stop', 'reason': reason})


def new_worker_id(service_id: Any, replica: Any = 0) -> str:
    """A worker id unique to this process start (a restarted worker never reads its old replies)."""
    return f'{str(service_id)[:8]}-{replica}-{uuid.uuid4().hex[:8]}'
