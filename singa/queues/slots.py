"""A train job's cap on trials running at once across all its templates (the budget's
``MAX_CONCURRENT_TRIALS``), shared by the train workers of every sub-job: ``TrialSlots``."""
import time
from typing import Optional

import redis

from singa.queues.base import train_job_prefix, translate_redis_errors

# How often a check-and-set retries when the key it watched changed under it (each retry reads the
# key again, so it sees who holds it now: a handful always settles).
_WATCH_RETRIES = 5


class TrialSlots:
    """The job's ``limit`` trial slots: ``limit`` Redis keys, each held by at most one worker.

    A slot is a key whose value is its holder's worker id, taken with ``SET NX PX``: Redis sets it
    only when nobody holds it, in one command, so more than ``limit`` workers never hold slots at
    once, however many ask together. The holder renews its hold and gives it back with a check-and-
    set (``WATCH`` the key, read it, and change it in a ``MULTI`` only if it is still the holder's):
    a hold that expired and went to another worker is never renewed or deleted by the one it left
    (the job's Redis user may not run scripts; optimistic transactions need none).

    A worker holds its slot from before it asks its advisor for a trial until the advisor has
    recorded the trial's end, so the trial's ``started_at`` and ``stopped_at`` in the database lie
    within the hold, and the database never shows more than ``limit`` trials of the job running at
    once. A hold lives ``hold_seconds`` unless renewed (the worker renews it at each heartbeat):
    the trial's lease plus a margin, so that a worker that died frees its slot only once its
    advisor has recorded its trial lost.

    Workers waiting for a slot queue in the order they first asked (a ticket in a sorted set, live
    while its ``alive`` key is, renewed at each attempt for ``wait_seconds``); a free slot goes to
    the first live tickets, and a worker that gives its slot back and asks again queues behind the
    others: the templates take turns. The queue only orders the waiters; the cap is the keys'.
    """

    def __init__(self, r: redis.Redis, train_job_id, limit: int, hold_seconds: float, wait_seconds: float):
        if limit < 1 or hold_seconds <= 0 or wait_seconds <= 0:
            raise ValueError(f'a cap of {limit} trials held {hold_seconds} s, tickets living {wait_seconds} s')
        self.r = r
        self.limit = limit
        self.hold_ms = int(hold_seconds * 1000)
        self.wait_ms = int(wait_seconds * 1000)
        prefix = train_job_prefix(train_job_id)
        self.keys = [f'{prefix}slot:{i}' for i in range(limit)]
        self.queue = prefix + 'slot_queue'
        self.alive_prefix = prefix + 'slot_alive:'
        self._held: dict[str, int] = {}      # worker id -> the index of its slot, as this object took it

    def acquire(self, worker_id: str) -> bool:
        """Take a slot if one is free and this worker is among the first waiting for one (else
        queue, or keep one's place); whether this worker holds a slot now."""
        if worker_id in self._held:
            return True
        with translate_redis_errors():
            pipe = self.r.pipeline(transaction=True)
            pipe.set(self.alive_prefix + worker_id, b'1', px=self.wait_ms)
            pipe.zadd(self.queue, {worker_id: time.time()}, nx=True)
            pipe.zrange(self.queue, 0, -1)
            pipe.mget(self.keys)
            _, _, queued, holders = pipe.execute()
            free = [i for i, holder in enumerate(holders) if holder is None]
            if not free or worker_id not in self._waiting(queued)[:len(free)]:
                return False
            for i in free:
                if self.r.set(self.keys[i], worker_id, nx=True, px=self.hold_ms):
                    self._held[worker_id] = i
                    self._leave_queue(worker_id)
                    return True
        return False

    def holds(self, worker_id: str) -> bool:
        return worker_id in self._held

    def renew(self, worker_id: str) -> bool:
        """Extend this worker's hold by ``hold_seconds`` (a hold Redis lost is taken again when it
        is free); False when another worker holds the slot now (this one's hold expired)."""
        index = self._held.get(worker_id)
        if index is None:
            return False
        key = self.keys[index]

        def extend(pipe, holder) -> bool:
            if holder is None:
                pipe.set(key, worker_id, nx=True, px=self.hold_ms)
            else:
                pipe.pexpire(key, self.hold_ms)
            return True
        if self._check_and_set(key, worker_id, extend):
            return True
        self._held.pop(worker_id, None)
        return False

    def release(self, worker_id: str) -> None:
        """Give the slot back (only if this worker still holds it), or the place in the queue."""
        index = self._held.pop(worker_id, None)
        with translate_redis_errors():
            if index is not None:
                key = self.keys[index]
                self._check_and_set(key, worker_id, lambda pipe, holder: holder is not None and pipe.delete(key))
            self._leave_queue(worker_id)

    # -- parts ------------------------------------------------------------------------------------

    def _check_and_set(self, key: str, worker_id: str, change) -> bool:
        """Run ``change(pipe, holder)`` in a transaction that commits only if ``key`` is unchanged
        since it was read and held by ``worker_id`` or nobody; False when another worker holds it."""
        with translate_redis_errors(), self.r.pipeline(transaction=True) as pipe:
            for _ in range(_WATCH_RETRIES):
                try:
                    pipe.watch(key)
                    holder = _text(pipe.get(key))
                    if holder not in (None, worker_id):
                        return False
                    pipe.multi()
                    if change(pipe, holder):
                        pipe.execute()
                    return True
                except redis.WatchError:
                    continue
                finally:
                    pipe.reset()
        raise redis.ConnectionError(f'{key} kept changing under {_WATCH_RETRIES} tries to renew or free it')

    def _waiting(self, queued) -> list[str]:
        """The live tickets of ``queued``, in order; the dead ones are removed."""
        queued = [_text(w) for w in queued]
        pipe = self.r.pipeline(transaction=False)
        for other in queued:
            pipe.exists(self.alive_prefix + other)
        live = pipe.execute()
        dead = [w for w, alive in zip(queued, live) if not alive]
        if dead:
            self.r.zrem(self.queue, *dead)
        return [w for w, alive in zip(queued, live) if alive]

    def _leave_queue(self, worker_id: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.zrem(self.queue, worker_id)
        pipe.delete(self.alive_prefix + worker_id)
        pipe.execute()


def _text(value: Optional[bytes]) -> Optional[str]:
    return value.decode() if isinstance(value, bytes) else value
