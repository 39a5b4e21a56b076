"""The serving protocol: an inference job's predictor and its inference workers.

The admin publishes a ``ServingConfig`` (the deployed trials, the ensemble,
the task) and one ``TrialSpec`` per trial. The predictor pushes each ``Batch`` of queries onto the
queue of every deployed trial; one replica of that trial pops it, predicts, and pushes a ``Reply``
(``errors``: query index -> message for the queries it could not predict) onto ``reply_to``. A
batch whose deadline has passed is skipped. Replicas renew a heartbeat, so the predictor knows
which models are up and never waits for a model with no live replica. A batch that a replica took
and did not answer in time is sent again (same bytes, same ``batch_id``) to the front of its
trial's queue; the predictor keeps the first reply of each trial. The predictor renews a heartbeat
of its own while its threads are healthy, which the admin reads before it calls a job RUNNING.
"""
import time
from dataclasses import dataclass, replace
from typing import ClassVar, Iterable, Optional

import redis

from singa.queues.base import (_beat, _check_timeout, _Message, _NUMBER, _read, delete_keys, encode,
                               inference_job_prefix, translate_redis_errors)


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
