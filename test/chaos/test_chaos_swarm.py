"""Chaos on the live Swarm: a stack started with ``scripts/start.sh`` has its parts' containers
killed (``docker kill``: SIGKILL), one at a time, mid-training and under serving load; Swarm
restarts them. The same scenarios as in process mode (``chaos.TrainingChaos``,
``chaos.ServingChaos``), one kill per component: a train worker, the advisor, the admin, Redis and
PostgreSQL mid-training; an inference worker (one of two replicas) and the predictor under load.
The recovery times go to ``test-artifacts/chaos/swarm.json``.
"""
import pytest

from chaos import ServingChaos, TrainingChaos, deploy_twice, equip, wait_until
from docker_cli import docker
from swarm_stack import SwarmStack, service_containers, task_container

pytestmark = pytest.mark.swarm

MODE = 'swarm'
TRIALS = 30              # Swarm's restarts take longer than process mode's: trials go on meanwhile
DEADLINE = 10.0
RESTART = 180.0         # Swarm restarts a stack service 5 s after it died; then it must start


@pytest.fixture(scope='module')
def stack(singa_images, swarm, tmp_path_factory):
    stack = SwarmStack.new(singa_images, tmp_path_factory.mktemp('chaos-swarm-home'),
                           predictor_port_min=32300, predictor_port_max=32399, stop_timeout=30)
    stack.start()
    yield stack
    stack.stop(purge=True)


@pytest.fixture(scope='module')
def dev(stack, iris):
    stack.client().create_user('chaos@example.com', 'amber-walrus-5', 'MODEL_DEVELOPER')
    return equip(stack.client('chaos@example.com', 'amber-walrus-5'), iris)


def _restarted(stack: SwarmStack, service: str, killed: list):
    """Returns when Swarm has started a new container of ``service`` (and the admin answers)."""
    def back():
        wait_until(lambda: set(service_containers(service, running_only=True)) - set(killed), RESTART,
                   f'Swarm to restart {service}')
        wait_until(stack.healthy, RESTART, 'the admin to answer GET /health')
    return back


def test_training_on_swarm_through_killed_containers_loses_nothing_acknowledged(stack, dev, figures):
    chaos = TrainingChaos(dev, 'chaos', figures, timeout=RESTART).start(TRIALS)
    job = f'singa.job_id={chaos.job_id}'
    chaos.kill_worker(lambda trial: docker('kill', task_container(trial['worker_id'].rsplit('/', 1)[1])))
    chaos.kill_advisor(lambda: stack.kill(stack.job_services(job, 'singa.service_type=ADVISOR')[0]))
    for name, role in (('Redis', 'redis'), ('PostgreSQL', 'postgres'), ('the admin', 'admin')):
        service, killed = f'{stack.name}-{role}', []
        kill = (lambda service=service, killed=killed: killed.extend(stack.kill(service)))
        if role == 'admin':
            chaos.kill_admin(kill, _restarted(stack, service, killed))
        else:
            chaos.kill_store(name, kill, _restarted(stack, service, killed))
    chaos.finish(lost_to_workers=1)


def test_serving_on_swarm_under_load_through_killed_containers(stack, dev, figures):
    served = deploy_twice(dev, 'serve')
    chaos = ServingChaos(dev, served, figures, DEADLINE)
    workers = stack.job_services(f'singa.job_id={served["id"]}', 'singa.service_type=INFERENCE')[0]
    before = set(service_containers(workers, running_only=True))
    assert len(before) == 2
    chaos.kill_redundant('an inference worker (1 of 2 replicas)', lambda: docker('kill', min(before)),
                         lambda: len(set(service_containers(workers, running_only=True)) - before) == 1)
    predictor = stack.job_services(f'singa.job_id={served["id"]}', 'singa.service_type=PREDICT')[0]
    chaos.kill_needed('the predictor', lambda: stack.kill(predictor), lambda: None)
    chaos.finish()
    dev.stop_inference_job('serve')
