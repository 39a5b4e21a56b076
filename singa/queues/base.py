"""What both protocols share: the Redis client (every wait bounded), the keys of each job and its
Redis user, errors translated at the boundary, and ``_Message``, the base of every message."""
import json
import logging
import time
from dataclasses import MISSING, fields
from typing import Any, ClassVar, Optional

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from singa.errors import ServiceUnavailableError

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
    """ACL rules of a job-scoped Redis user: its own keys, the commands the protocols use (no
    scripting; ``WATCH`` and ``MULTI`` make the check-and-set of ``TrialSlots``)."""
    return ['on', 'resetkeys', f'~{prefix}*', 'resetchannels', '-@all',
            '+ping', '+hello', '+auth', '+client|setname', '+select',
            '+lpush', '+rpush', '+brpop', '+blpop', '+rpop', '+lpop', '+llen', '+lrange', '+ltrim', '+lpos',
            '+zadd', '+zrem', '+zscore', '+zrangebyscore', '+zrange', '+zcount', '+zremrangebyscore',
            '+get', '+set', '+del', '+expire', '+pexpire', '+exists', '+sismember', '+smembers',
            '+sadd', '+srem', '+hset', '+hget', '+hgetall', '+hdel', '+mget',
            '+multi', '+exec', '+discard', '+watch', '+unwatch']


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


def _read(kind, raw) -> Optional[Any]:
    """The ``kind`` message in ``raw``, or None (and a warning) when it is missing or malformed."""
    if raw is None:
        return None
    try:
        return kind.from_dict(decode(raw))
    except ValueError as e:
        log.warning('dropped a malformed %s message: %s', kind.__name__, e)
        return None


def _beat(r: redis.Redis, key: str, member: str, ttl: float) -> None:
    """Renew ``member``'s heartbeat in the zset ``key`` (and drop members long expired)."""
    now = time.time()
    with translate_redis_errors():
        pipe = r.pipeline(transaction=False)
        pipe.zadd(key, {member: now + ttl})
        pipe.zremrangebyscore(key, '-inf', now - 60)
        pipe.execute()
