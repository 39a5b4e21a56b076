"""The job-wide cap on trials running at once (``MAX_CONCURRENT_TRIALS``, ``TrialSlots``): over
the real Redis as the job's own Redis user, and with real advisor and train worker processes of
several templates, checked where a user would check it: the trials' ``started_at`` and
``stopped_at`` in the database."""
import dataclasses
import os
import signal
import threading
import time
import uuid

import pytest
import redis

from local_stack import wait_until
from singa.admin.services.deployer import ensure_job_redis_user, job_redis_credentials
from singa.constants import ServiceType, TrialStatus
from singa.meta_store import trials
from singa.queues import TrialSlots, make_redis
from worker_harness import seed_dataset, seed_model, seed_user

TEMPLATE = '''
import time

from singa.model import BaseModel, FloatKnob

class Timed{n}(BaseModel):
    @staticmethod
    def get_knob_config():
        return {{"x": FloatKnob(0.0, 1.0)}}

    def train(self, dataset_path, shared_params=None, **kwargs):
        time.sleep({seconds})

    def evaluate(self, dataset_path):
        return self.knobs["x"]

    def predict(self, queries):
        return [0.0 for _ in queries]

    def dump_parameters(self):
        return {{"x": self.knobs["x"]}}

    def load_parameters(self, params):
        pass
'''


@pytest.fixture
def job_slots(settings, redis_client):
    """``make(limit, hold, wait=5)``: the slots of one new job, over a client logged in as that
    job's Redis user (the one its train workers have: no scripting)."""
    job_id = uuid.uuid4()
    ensure_job_redis_user(settings, redis_client, ServiceType.TRAIN.value, job_id)
    user, password = job_redis_credentials(settings, ServiceType.TRAIN.value, job_id)
    client = make_redis(dataclasses.replace(settings, redis_user=user, redis_password=password))

    def make(limit: int, hold: float, wait: float = 5.0) -> TrialSlots:
        return TrialSlots(client, job_id, limit, hold_seconds=hold, wait_seconds=wait)
    yield make
    client.close()


def test_slots_go_to_the_first_waiting_workers_in_turn(job_slots, redis_client):
    slots = job_slots(limit=2, hold=5.0)
    assert slots.acquire('a') and slots.acquire('b')
    assert not slots.acquire('c')
    assert slots.acquire('a')                      # a holder keeps its slot
    slots.release('a')
    assert not slots.acquire('a')                  # back in the queue, behind c
    assert slots.acquire('c')
    slots.release('b')
    assert slots.acquire('a')
    assert slots.renew('a') and slots.renew('c')
    other_job = TrialSlots(redis_client, uuid.uuid4(), limit=1, hold_seconds=5.0, wait_seconds=5.0)
    assert other_job.acquire('a')                  # each job has its own slots


def test_a_dead_workers_slot_frees_after_its_hold(job_slots):
    dead = job_slots(limit=1, hold=0.3)
    assert dead.acquire('dead')
    slots = job_slots(limit=1, hold=5.0)
    assert not slots.acquire('alive')
    assert wait_until(lambda: slots.acquire('alive'), timeout=5, interval=0.05)
    assert slots.renew('alive')
    assert not job_slots(limit=1, hold=5.0).acquire('late')


def test_a_hold_that_went_to_another_worker_is_neither_renewed_nor_freed_by_the_first(job_slots):
    first = job_slots(limit=1, hold=0.2)
    assert first.acquire('slow')
    second = job_slots(limit=1, hold=5.0)
    assert wait_until(lambda: second.acquire('next'), timeout=5, interval=0.05)
    assert not first.renew('slow')                 # its hold expired and went to 'next'
    first.release('slow')
    assert second.renew('next')
    assert not job_slots(limit=1, hold=5.0).acquire('third')


@pytest.mark.parametrize('operation', ['renew', 'release'])
def test_a_worker_that_takes_the_slot_between_the_holders_read_and_write_keeps_it(job_slots, redis_client,
                                                                                   operation):
    """The race a plain GET then PEXPIRE (or DEL) would lose: the hold expires and another worker
    takes the slot right after its holder read it. The holder's WATCH sees the change."""
    slots = job_slots(limit=1, hold=5.0)
    assert slots.acquire('slow')
    key = slots.keys[0]
    steal = threading.Event()
    steal.set()

    class TakenAfterTheRead(redis.client.Pipeline):
        def get(self, name):
            value = super().get(name)
            if self.watching and steal.is_set():
                steal.clear()
                redis_client.set(name, b'thief', px=5000)     # as if the hold expired and was taken
            return value

    client = slots.r
    client.pipeline = lambda transaction=True, shard_hint=None: TakenAfterTheRead(
        client.connection_pool, client.response_callbacks, transaction, shard_hint)
    assert getattr(slots, operation)('slow') in (False, None)
    assert not steal.is_set()                      # the read did happen under WATCH
    assert redis_client.get(key) == b'thief'       # neither extended nor freed by the loser
    assert redis_client.pttl(key) > 4000
    assert not slots.holds('slow') and not slots.acquire('slow')


def test_no_more_than_the_cap_hold_slots_when_many_workers_race(job_slots):
    limit, workers, rounds = 3, 12, 4
    holding, most, served = set(), [0], {}
    lock = threading.Lock()
    errors = []

    def work(name):
        slots = job_slots(limit=limit, hold=5.0)
        try:
            for _ in range(rounds):
                while not slots.acquire(name):
                    time.sleep(0.002)
                with lock:
                    holding.add(name)
                    most[0] = max(most[0], len(holding))
                    served[name] = served.get(name, 0) + 1
                time.sleep(0.005)
                with lock:
                    holding.discard(name)
                slots.release(name)
        except Exception as e:       # noqa: BLE001 -- reported by the test below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f'w{i}',)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert most[0] == limit                        # the slots were all used, and never more
    assert served == {f'w{i}': rounds for i in range(workers)}


# -- with real advisors and train workers -----------------------------------------------------------

def _seed(meta_store, settings, iris, tmp_path, seconds: list[float]):
    with meta_store.transaction() as cur:
        owner = seed_user(cur)
        train_id = seed_dataset(cur, settings, owner, iris['train'])
        val_id = seed_dataset(cur, settings, owner, iris['val'])
        model_ids = []
        for n, s in enumerate(seconds):
            path = tmp_path / f'timed{n}.py'
            path.write_text(TEMPLATE.format(n=n, seconds=s))
            model_ids.append(seed_model(cur, settings, owner, str(path), f'Timed{n}'))
    return owner, train_id, val_id, model_ids


def most_at_once(spans) -> int:
    """The most of ``spans`` ([start, stop) pairs) that overlap at any moment (an end and a start
    at the same instant do not overlap)."""
    edges = sorted([(start, 1) for start, _ in spans] + [(stop, -1) for _, stop in spans])
    running = most = 0
    for _, step in edges:              # at equal times the end (-1) sorts first
        running += step
        most = max(most, running)
    return most


def test_the_database_never_shows_more_trials_running_than_the_cap(meta_store, settings, iris, workers, tmp_path):
    owner, train_id, val_id, model_ids = _seed(meta_store, settings, iris, tmp_path, [0.3, 0.3, 0.3])
    job, created = workers.seed_job(owner, train_id, val_id, model_ids,
                                    {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 4, 'MAX_CONCURRENT_TRIALS': 2},
                                    workers=2)
    for sub, advisor, train_services in created:
        workers.start(advisor)
        for i, service in enumerate(train_services):
            workers.start(service, replica=i)
    job = workers.wait_job(job.id, timeout=120)
    assert job.status == 'STOPPED', workers.logs()
    done = []
    with meta_store.transaction() as cur:
        for sub, _, _ in created:
            mine = trials.list_trials_of_sub_job(cur, sub.id)
            assert len(mine) == 4 and all(t.status == 'COMPLETED' for t in mine), [(t.status, t.error) for t in mine]
            done += mine
    spans = [(t.started_at, t.stopped_at) for t in done]
    assert most_at_once(spans) == 2, sorted(spans)       # six workers, two trials at a time, never three


def test_a_killed_workers_slot_is_freed_once_its_trial_is_recorded_lost(meta_store, settings, iris, workers,
                                                                        redis_client, tmp_path):
    owner, train_id, val_id, model_ids = _seed(meta_store, settings, iris, tmp_path, [60, 0.1])
    job, created = workers.seed_job(owner, train_id, val_id, model_ids,
                                    {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 1, 'MAX_CONCURRENT_TRIALS': 1},
                                    workers=1, advisor_config={'max_trial_retries': 0})
    (slow_sub, slow_advisor, (slow_service,)), (quick_sub, quick_advisor, (quick_service,)) = created

    def of(sub_id):
        with meta_store.transaction() as cur:
            return trials.list_trials_of_sub_job(cur, sub_id)
    workers.start(slow_advisor)
    slow_worker = workers.start(slow_service)
    assert wait_until(lambda: of(slow_sub.id), timeout=30), workers.logs()
    workers.start(quick_advisor)
    workers.start(quick_service)
    queue = TrialSlots(redis_client, job.id, limit=1, hold_seconds=1.0, wait_seconds=1.0).queue
    assert wait_until(lambda: redis_client.zcard(queue), timeout=30), workers.logs()   # the quick worker waits
    assert not of(quick_sub.id), workers.logs()
    os.killpg(slow_worker.pid, signal.SIGKILL)
    killed_at = time.time()
    assert wait_until(lambda: [t for t in of(quick_sub.id) if t.status == TrialStatus.COMPLETED], timeout=30), \
        workers.logs()
    (lost,), (quick,) = of(slow_sub.id), of(quick_sub.id)
    assert lost.status == TrialStatus.ERRORED and lost.stopped_at <= quick.started_at, (lost, quick)
    # The slot frees within the lease (2 s here) and the margin (3 s) of the last heartbeat.
    assert quick.started_at.timestamp() - killed_at < 2.0 + 3.0 + 3.0


def test_a_worker_whose_slot_went_to_another_stops_its_trial(meta_store, settings, iris, workers, redis_client,
                                                              tmp_path):
    """What a worker cut off from Redis for longer than its hold finds when it is back: another
    worker took its slot. It stops its trial rather than run beyond the cap."""
    owner, train_id, val_id, model_ids = _seed(meta_store, settings, iris, tmp_path, [60])
    job, ((sub, advisor, (service,)),) = workers.seed_job(
        owner, train_id, val_id, model_ids, {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 1, 'MAX_CONCURRENT_TRIALS': 1},
        workers=1)
    workers.start(advisor)
    workers.start(service)

    def trial():
        with meta_store.transaction() as cur:
            found = trials.list_trials_of_sub_job(cur, sub.id)
        return found[0] if found else None
    assert wait_until(trial, timeout=30), workers.logs()
    key = TrialSlots(redis_client, job.id, limit=1, hold_seconds=1.0, wait_seconds=1.0).keys[0]
    assert redis_client.get(key) is not None
    redis_client.set(key, b'another-worker', px=60_000)
    assert wait_until(lambda: trial().status != TrialStatus.RUNNING, timeout=30), workers.logs()
    assert trial().status == TrialStatus.STOPPED and 'lost its slot' in trial().error, trial()
    assert redis_client.get(key) == b'another-worker'      # the worker did not take it back
