"""Advisor and train workers as real processes over the real Redis and PostgreSQL."""
import os
import signal
import time

from singa.meta_store import services, trials
from worker_harness import EXAMPLES, seed_dataset, seed_model, seed_user

TREE = os.path.join(EXAMPLES, 'models', 'sk_decision_tree.py')


def _seed(meta_store, settings, iris, model_files=((TREE, 'SkDecisionTree'),)):
    with meta_store.transaction() as cur:
        owner = seed_user(cur)
        train_id = seed_dataset(cur, settings, owner, iris['train'])
        val_id = seed_dataset(cur, settings, owner, iris['val'])
        model_ids = [seed_model(cur, settings, owner, path, cls) for path, cls in model_files]
    return owner, train_id, val_id, model_ids


def _trials(meta_store, sub_job_id):
    with meta_store.transaction() as cur:
        return trials.list_trials_of_sub_job(cur, sub_job_id)


def test_trial_count_is_exact_with_two_workers(meta_store, settings, iris, workers):
    owner, train_id, val_id, model_ids = _seed(meta_store, settings, iris)
    job, created = workers.seed_job(owner, train_id, val_id, model_ids,
                                    {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 7}, workers=2)
    sub, advisor, train_services = created[0]
    workers.start(advisor)
    for i, service in enumerate(train_services):
        workers.start(service, replica=i)
    job = workers.wait_job(job.id, timeout=60)
    assert job.status == 'STOPPED', workers.logs()
    done = _trials(meta_store, sub.id)
    assert len(done) == 7
    assert all(t.status == 'COMPLETED' for t in done), [(t.status, t.error) for t in done]
    assert max(t.score for t in done) > 0.85
    assert all(t.params_id for t in done)
    assert len({t.worker_id for t in done}) == 2
    with meta_store.transaction() as cur:
        logs = trials.get_logs(cur, done[0].id)
        assert any(line.line.get('type') == 'METRICS' for line in logs)
        svc = services.list_services(cur, job_id=job.id)
        assert {s.status for s in svc if s.service_type == 'ADVISOR'} == {'STOPPED'}
        assert {s.status for s in svc if s.service_type == 'TRAIN'} == {'RUNNING'}   # the reconciler ends them
    for procs in workers.procs.values():
        for p in procs:
            assert p.wait(timeout=15) == 0


def test_sigkill_of_a_train_worker_costs_one_trial_and_is_retried(meta_store, settings, iris, workers,
                                                                  tmp_path):
    slow = tmp_path / 'slow.py'
    slow.write_text(
        'import time\n'
        'from singa.model import BaseModel, FloatKnob\n'
        'class Slow(BaseModel):\n'
        '    @staticmethod\n'
        '    def get_knob_config():\n'
        '        return {"x": FloatKnob(0.0, 1.0)}\n'
        '    def train(self, dataset_path, shared_params=None, **kw):\n'
        '        time.sleep(1.0)\n'
        '    def evaluate(self, dataset_path):\n'
        '        return self.knobs["x"]\n'
        '    def predict(self, queries):\n'
        '        return [0.0 for _ in queries]\n'
        '    def dump_parameters(self):\n'
        '        return {"x": self.knobs["x"]}\n'
        '    def load_parameters(self, params):\n'
        '        pass\n')
    settings_fast = settings
    owner, train_id, val_id, model_ids = _seed(meta_store, settings_fast, iris, ((str(slow), 'Slow'),))
    job, created = workers.seed_job(owner, train_id, val_id, model_ids, {'TIME_HOURS': 0.05, 'MODEL_TRIAL_COUNT': 4},
                                    workers=2, advisor_config={'max_trial_retries': 1})
    sub, advisor, (w1, w2) = created[0]
    workers.start(advisor)
    victim = workers.start(w1, replica=0)
    workers.start(w2, replica=1)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        running = [t for t in _trials(meta_store, sub.id) if t.status == 'RUNNING']
        if any(t.worker_id and t.worker_id.startswith(str(w1.id)[:8]) for t in running):
            break
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    job = workers.wait_job(job.id, timeout=90)
    done = _trials(meta_store, sub.id)
    lost = [t for t in done if t.error and 'worker lost' in t.error]
    assert len(lost) == 1 and lost[0].status == 'ERRORED'
    retries = [t for t in done if t.retry_of == lost[0].id]
    assert len(retries) == 1 and retries[0].status == 'COMPLETED' and retries[0].knobs == lost[0].knobs
    assert len([t for t in done if t.retry_of is None]) == 4
    assert job.status == 'STOPPED'


def test_an_advisor_that_cannot_search_the_template_ends_the_sub_job_with_the_reason(meta_store, settings, iris,
                                                                                     workers):
    owner, train_id, val_id, model_ids = _seed(meta_store, settings, iris)
    # The admin refuses this choice; a record that has it anyway must not crash-loop the advisor.
    job, created = workers.seed_job(owner, train_id, val_id, model_ids, {'MODEL_TRIAL_COUNT': 3},
                                    advisor_config={'advisor': 'CMAES'})
    sub, advisor, train_services = created[0]
    process = workers.start(advisor)
    assert process.wait(timeout=30) == 0
    job = workers.wait_job(job.id, timeout=10)
    assert job.status == 'ERRORED' and 'cannot search this template' in job.error and 'CMAES' in job.error
    assert _trials(meta_store, sub.id) == []
