"""Chaos in process mode: a platform started with ``singa up`` has its parts killed with SIGKILL,
one at a time, mid-training and under serving load, and is brought back the way an operator would
(``singa up`` again for the admin, Redis and PostgreSQL; the supervisors restart workers and
predictors on their own). Nothing acknowledged may be lost:

- training: every trial the API showed COMPLETED stays COMPLETED with its score and parameters,
  trials whose workers lived through a Redis or PostgreSQL restart complete, and the job completes
  exactly the trials it was asked for;
- serving: no request fails while a redundant replica is alive (one replica killed; the admin and
  PostgreSQL killed, which serving does not need), and no request outlives the predictor's
  deadline by more than 1 s, whatever is killed.

The recovery times go to ``test-artifacts/chaos/process.json``.
"""
import os
import signal
import time

import pytest

from chaos import TEMPLATES, Acknowledged, Figures, wait_until
from local_stack import LocalStack

TASK = 'TABULAR_CLASSIFICATION'
TRIALS = 14
DEADLINE = 10.0          # the predictor's (SINGA_PREDICTOR_TIMEOUT_SECONDS, its default)


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    stack = LocalStack(str(tmp_path_factory.mktemp('chaos') / 'data'))
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope='module')
def dev(stack, iris):
    client = stack.user('chaos-dev', 'MODEL_DEVELOPER')
    client.datasets = [client.create_dataset(f'iris-{split}', TASK, iris[split])['id'] for split in ('train', 'val')]
    client.steady = client.create_model('steady', TASK, os.path.join(TEMPLATES, 'steady_tree.py'), 'SteadyTree')['id']
    return client


@pytest.fixture(scope='module')
def figures():
    figures = Figures('process')
    yield figures
    figures.save(trials=TRIALS, deadline_seconds=DEADLINE)


def _singa_up(stack) -> float:
    started = time.monotonic()
    stack.up()
    return time.monotonic() - started


def test_training_through_killed_parts_loses_nothing_acknowledged(stack, dev, figures):
    dev.create_train_job('chaos', TASK, *dev.datasets, models=[dev.steady],
                         budget={'MODEL_TRIAL_COUNT': TRIALS, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.5})
    job_id = dev.get_train_job('chaos')['id']
    acknowledged = Acknowledged(dev, 'chaos').start()

    def mid_trial() -> list:
        """Once one more trial completed since the last kill and both workers run one: those."""
        done = acknowledged.completed()

        def ready():
            running = [t for t in acknowledged.poll() if t['status'] == 'RUNNING']
            return running if acknowledged.completed() > done and len(running) == 2 else None
        return wait_until(ready, 120, 'a completion and two running trials')

    def next_completion(after: int) -> float:
        wait_until(lambda: acknowledged.completed() > after, 120, 'a trial to complete')
        return time.monotonic()

    def status_of(trial_id: str) -> str:
        return next(t['status'] for t in acknowledged.poll() if t['id'] == trial_id)

    # A train worker: the reconciler sees its task gone and its trial is retried, long before its
    # lease (30 s) would have expired.
    running = mid_trial()
    pid, task = stack.service_tasks('TRAIN', job_id)[0]
    held = next(t for t in running if t['worker_id'].endswith('/' + task))
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: status_of(held['id']) == 'ERRORED', 25, 'the lost trial to be released')
    figures.add('a train worker', 'mid-trial', time.monotonic() - killed, 0, 'until its trial was released')

    # The advisor: its supervisor restarts it, and it resumes the study from the database.
    mid_trial()
    done, killed = acknowledged.completed(), time.monotonic()
    os.kill(stack.service_tasks('ADVISOR', job_id)[0][0], signal.SIGKILL)
    figures.add('the advisor', 'mid-trial', next_completion(done) - killed, 0, 'until the next trial completed')

    # The admin: training goes on without it; `singa up` brings it back.
    mid_trial()
    stack.kill_admin()
    figures.add('the admin', 'mid-trial', _singa_up(stack), 0, '`singa up` until GET /health answered')

    # Redis, coming back without its data, then PostgreSQL: the trials running through either complete.
    for name, kill in (('Redis (its data lost)', lambda: stack.kill_redis(lose_data=True)),
                       ('PostgreSQL', stack.kill_postgres)):
        running = {t['id'] for t in mid_trial()}
        done, killed = acknowledged.completed(), time.monotonic()
        kill()
        _singa_up(stack)
        figures.add(name, 'mid-trial', next_completion(done) - killed, 0,
                    '`singa up`, then until the next trial completed')
        wait_until(lambda: all(status_of(t) != 'RUNNING' for t in running), 60, 'the running trials to end')
        assert {status_of(t) for t in running} == {'COMPLETED'}, name

    job = dev.wait_until_train_job_has_stopped('chaos', timeout=240)
    acknowledged.stop()
    final = dev.get_trials_of_train_job('chaos')
    assert acknowledged.lost(final) == []
    assert job['status'] == 'STOPPED' and job['trials_completed'] == TRIALS, job
    assert len([t for t in final if t['status'] == 'COMPLETED']) == TRIALS
    # The one trial lost (to the killed worker) was run again.
    retried = {t['retry_of'] for t in final if t['retry_of']}
    lost = [t for t in final if t['status'] != 'COMPLETED']
    assert len(lost) == 1 and lost[0]['status'] == 'ERRORED' and lost[0]['id'] in retried, lost
    for trial_id in acknowledged.seen:
        assert dev.get_trial_parameters(trial_id)
