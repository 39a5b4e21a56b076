"""Chaos in process mode: a platform started with ``singa up`` has its parts killed with SIGKILL,
one at a time, mid-training and under serving load, and is brought back the way an operator would
(``singa up`` again for the admin, Redis and PostgreSQL; the supervisors restart workers and
predictors on their own). Nothing acknowledged may be lost (``chaos.TrainingChaos``,
``chaos.ServingChaos`` say what each kill must leave); the recovery times go to
``test-artifacts/chaos/process.json``.
"""
import os
import signal

import pytest

from chaos import ServingChaos, TrainingChaos, deploy_twice, equip
from local_stack import LocalStack

MODE = 'process'
TRIALS = 20
DEADLINE = 10.0          # the predictor's (SINGA_PREDICTOR_TIMEOUT_SECONDS, its default)


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    stack = LocalStack(str(tmp_path_factory.mktemp('chaos') / 'data'))
    stack.up()
    yield stack
    stack.down()


@pytest.fixture(scope='module')
def dev(stack, iris):
    return equip(stack.user('chaos-dev', 'MODEL_DEVELOPER'), iris)


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def test_training_through_killed_parts_loses_nothing_acknowledged(stack, dev, figures):
    chaos = TrainingChaos(dev, 'chaos', figures).start(TRIALS)

    def pid_of(trial: dict) -> int:
        return next(pid for pid, task in stack.service_tasks('TRAIN', chaos.job_id)
                    if trial['worker_id'].endswith('/' + task))

    chaos.kill_worker(lambda trial: _kill(pid_of(trial)))
    chaos.kill_advisor(lambda: _kill(stack.service_tasks('ADVISOR', chaos.job_id)[0][0]))
    chaos.kill_store('Redis (its data lost)', lambda: stack.kill_redis(lose_data=True), stack.up)
    chaos.kill_store('PostgreSQL', stack.kill_postgres, stack.up)
    chaos.kill_admin(stack.kill_admin, stack.up)
    chaos.finish(lost_to_workers=1)


def test_serving_under_load_through_killed_parts(stack, dev, figures):
    job = deploy_twice(dev, 'serve')
    chaos = ServingChaos(dev, job, figures, DEADLINE)

    def replicas() -> set:
        return set(stack.service_tasks('INFERENCE', job['id']))

    before = replicas()
    chaos.kill_redundant('an inference worker (1 of 2 replicas)', lambda: _kill(min(before)[0]),
                         lambda: len(replicas()) == 2 and replicas() != before)
    chaos.kill_unneeded('the admin', stack.kill_admin, stack.up)
    chaos.kill_unneeded('PostgreSQL', stack.kill_postgres, stack.up)
    chaos.kill_needed('the predictor', lambda: _kill(stack.service_tasks('PREDICT', job['id'])[0][0]), lambda: None)
    chaos.kill_needed('Redis', stack.kill_redis, stack.up)
    chaos.finish()
