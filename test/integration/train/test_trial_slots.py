"""The job-wide cap on trials running at once (``MAX_CONCURRENT_TRIALS``, ``TrialSlots``): over
the real Redis, and with real advisor and train worker processes of several templates."""
import uuid

from local_stack import wait_until
from singa.meta_store import trials
from singa.queues import TrialSlots
from worker_harness import seed_dataset, seed_model, seed_user

# Each trial says when its training began and ended (named metrics), so overlaps are seen where
# they happen, not in the advisor's bookkeeping.
TIMED = '''
import time

from singa.model import BaseModel, FloatKnob

class Timed{n}(BaseModel):
    @staticmethod
    def get_knob_config():
        return {{"x": FloatKnob(0.0, 1.0)}}

    def train(self, dataset_path, shared_params=None, **kwargs):
        self.began = time.time()
        time.sleep(0.4)
        self.ended = time.time()

    def evaluate(self, dataset_path):
        return {{"score": self.knobs["x"], "began": self.began, "ended": self.ended}}

    def predict(self, queries):
        return [0.0 for _ in queries]

    def dump_parameters(self):
        return {{"x": self.knobs["x"]}}

    def load_parameters(self, params):
        pass
'''


def test_slots_go_to_the_first_live_tickets_in_turn(redis_client):
    job_id = uuid.uuid4()
    slots = TrialSlots(redis_client, job_id, limit=2, ttl=5.0)
    assert slots.acquire('a') and slots.acquire('b')
    assert not slots.acquire('c')
    assert slots.acquire('a')                      # a holder keeps its slot
    slots.release('a')
    assert slots.acquire('c')
    assert not slots.acquire('a')                  # back in the queue, behind c
    slots.release('b')
    assert slots.acquire('a')
    other_job = TrialSlots(redis_client, uuid.uuid4(), limit=1, ttl=5.0)
    assert other_job.acquire('a')                  # each job has its own slots


def test_a_dead_workers_slot_frees_itself(redis_client):
    job_id = uuid.uuid4()
    assert TrialSlots(redis_client, job_id, limit=1, ttl=0.3).acquire('dead')
    slots = TrialSlots(redis_client, job_id, limit=1, ttl=5.0)
    assert not slots.acquire('alive')
    assert wait_until(lambda: slots.acquire('alive'), timeout=5, interval=0.05)
    slots.renew('alive')
    assert not slots.acquire('late')


def test_the_cap_holds_across_the_templates_of_a_job(meta_store, settings, iris, workers, tmp_path):
    with meta_store.transaction() as cur:
        owner = seed_user(cur)
        train_id = seed_dataset(cur, settings, owner, iris['train'])
        val_id = seed_dataset(cur, settings, owner, iris['val'])
        model_ids = []
        for n in range(3):
            path = tmp_path / f'timed{n}.py'
            path.write_text(TIMED.format(n=n))
            model_ids.append(seed_model(cur, settings, owner, str(path), f'Timed{n}'))
    job, created = workers.seed_job(owner, train_id, val_id, model_ids,
                                    {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 3, 'MAX_CONCURRENT_TRIALS': 1},
                                    workers=2)
    for sub, advisor, train_services in created:
        workers.start(advisor)
        for i, service in enumerate(train_services):
            workers.start(service, replica=i)
    job = workers.wait_job(job.id, timeout=90)
    assert job.status == 'STOPPED', workers.logs()
    done = []
    with meta_store.transaction() as cur:
        for sub, _, _ in created:
            mine = trials.list_trials_of_sub_job(cur, sub.id)
            assert len(mine) == 3 and all(t.status == 'COMPLETED' for t in mine), [(t.status, t.error) for t in mine]
            done += mine
    spans = sorted((t.metrics['began'], t.metrics['ended']) for t in done)
    overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    assert not overlaps, spans                     # six workers, one trial at a time
