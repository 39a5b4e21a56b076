"""SingaAuto on a live Docker Swarm, as an operator runs it: scripts/start.sh, the client,
scripts/stop.sh. One scenario, each step needing the one before:

1. start the stack; it says where worker nodes join (or why they cannot); a second start.sh
   changes nothing;
2. through the client: log in, upload two datasets and two templates, train with a small budget
   and kill a train worker's container in the middle of a trial: Swarm restarts it, the lost trial
   is retried and the job completes every trial; workers could not write to their dataset;
   nothing of the job is left running afterwards;
3. deploy the best trial of each template with two replicas each, predict with a key on the
   predictor's published port and through the admin; kill one inference worker's container while
   4 clients keep querying: every query is answered by both models, none takes longer than the
   replica timeout + 1 s (the batch the killed worker held goes to the other replica), and Swarm
   restarts the worker; stop the inference job;
4. stop.sh keeps the data: the stack comes back with the same password and the same records;
   all along, no process on this machine had a secret of the stack on its command line;
5. stop.sh --purge leaves no service, container, volume, secret, network or file of the stack.
"""
import subprocess
import sys
import types
from pathlib import Path

import pytest

from command_lines import CommandLineWatch
from docker_cli import docker
from singa.admin.services.deployer import job_redis_credentials
from singa.client import Client
from swarm_stack import REPO, QueryLoad, SwarmStack, freeze_until_it_holds_a_query, service_containers, wait_for

pytestmark = pytest.mark.swarm

TEMPLATES = Path(__file__).parent / 'templates'
BUDGET = 4                                   # trials per template
REPLICA_TIMEOUT = 1.0                        # the predictor's deadline for one replica


@pytest.fixture(scope='module')
def stack(singa_images, swarm, tmp_path_factory):
    stack = SwarmStack.new(singa_images, tmp_path_factory.mktemp('swarm-home'),
                           trial_lease_seconds=3, stop_grace_seconds=5, reconcile_interval=1,
                           predictor_timeout_seconds=2, predictor_replica_timeout=REPLICA_TIMEOUT,
                           predictor_port_min=32200, predictor_port_max=32299, stop_timeout=30)
    yield stack
    stack.stop(purge=True)                   # whatever the test reached; safe to repeat


@pytest.fixture(scope='module')
def wine(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('wine')
    subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', str(out), 'wine'], cwd=REPO,
                   check=True, capture_output=True)
    return out


@pytest.fixture
def watch():
    watch = CommandLineWatch(interval=0.1).start()
    yield watch
    watch.stop()


def test_train_and_serve_on_a_live_swarm_through_killed_workers_then_stop_and_purge(stack, wine, watch):
    # 1. start, twice
    printed = stack.start()
    assert printed['admin'].endswith(f':{stack.port}') and printed['superadmin'] == 'superadmin@singaauto'
    join = docker('node', 'inspect', 'self', '--format', '{{.ManagerStatus.Addr}}').stdout.strip()
    if join.startswith('127.'):        # the test swarm, unless this engine was in another one already
        assert printed['join'] == (f'worker nodes cannot join: this swarm advertises {join}, '
                                   'a loopback address (see below)')
        assert f'WARNING: this swarm advertises {join}, which no other machine can reach' in stack.stderr
        assert 'docker swarm init --force-new-cluster --advertise-addr ' in stack.stderr
    else:
        assert printed['join'] == f'worker nodes join at {join} (docker swarm join-token worker prints the command)'
    services = stack.stack_services()
    assert sorted(services) == sorted(f'{stack.name}-{role}' for role in ('admin', 'postgres', 'redis'))
    assert stack.start() == printed
    assert stack.stack_services() == services, 'a second start.sh changed the services'

    # 2. train, killing a worker mid-trial
    admin = stack.client()
    admin.create_user('dev@example.com', 'amber-walrus-5', 'MODEL_DEVELOPER')
    dev = stack.client('dev@example.com', 'amber-walrus-5')
    train = dev.create_dataset('wine-train', 'TABULAR_CLASSIFICATION', str(wine / 'wine_train.csv'))
    val = dev.create_dataset('wine-val', 'TABULAR_CLASSIFICATION', str(wine / 'wine_val.csv'))
    slow = dev.create_model('slow-tree', 'TABULAR_CLASSIFICATION', str(TEMPLATES / 'slow_tree.py'), 'SlowTree')
    logreg = dev.create_model('logreg', 'TABULAR_CLASSIFICATION',
                              str(REPO / 'examples' / 'models' / 'sk_logistic_regression.py'), 'SkLogisticRegression')
    job = dev.create_train_job('wine', 'TABULAR_CLASSIFICATION', train['id'], val['id'],
                               budget={'MODEL_TRIAL_COUNT': BUDGET, 'TIME_HOURS': 0.1},
                               models=[slow['id'], logreg['id']], max_trial_retries=1)

    def running_slow_trial():
        return next((t for t in dev.get_trials_of_train_job('wine')
                     if t['model_name'] == 'slow-tree' and t['status'] == 'RUNNING' and t['no'] >= 2), None)
    victim = wait_for(running_slow_trial, 90, 'a second slow-tree trial to run', interval=0.1)
    service = wait_for(lambda: stack.job_services(f'singa.job_id={job["id"]}', 'singa.service_type=TRAIN',
                                                  f'singa.service_id={_service_id_prefix(stack, victim)}'),
                       10, 'the service of the trial')[0]
    killed = service_containers(service, running_only=True)
    assert len(killed) == 1
    docker('kill', killed[0])
    wait_for(lambda: set(service_containers(service, running_only=True)) - set(killed), 60,
             'Swarm to restart the killed worker')

    job = dev.wait_until_train_job_has_stopped('wine', timeout=180, interval=1, progress=False)
    trials = dev.get_trials_of_train_job('wine')
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 2 * BUDGET, (job, trials)
    lost = next(t for t in trials if t['id'] == victim['id'])
    assert lost['status'] == 'ERRORED'
    assert [t['status'] for t in trials if t['retry_of'] == victim['id']] == ['COMPLETED']
    done = next(t for t in trials if t['model_name'] == 'slow-tree' and t['status'] == 'COMPLETED')
    messages = [m['message'] for m in dev.get_trial_logs(done['id'])['messages']]
    assert 'dataset writable: False' in messages and done['is_params_saved']
    wait_for(lambda: not stack.job_services() and not stack.containers(jobs_only=True), 60,
             'the services and containers of the ended job to be removed')

    # 3. serve, killing an inference worker under load
    dev.create_inference_job('wine', replicas=2)
    served = dev.wait_until_inference_job_is_running('wine', timeout=120)
    assert served['predictor_url'].endswith(tuple(f':{p}' for p in range(32200, 32300)))
    key = dev.create_prediction_key('wine', name='test')['key']
    with open(wine / 'wine_test.csv') as f:           # a whole row: every feature the models know
        header, row = f.readline().strip().split(','), f.readline().strip().split(',')
    query = {name: float(value) for name, value in zip(header, row) if name != 'target'}
    assert len(dev.predict('wine', [query])[0]) == 3                       # through the admin
    load = QueryLoad(lambda client: client.predict('wine', [query], prediction_key=key,
                                                   predictor_url=served['predictor_url'], details=True),
                     lambda: Client(admin_host='127.0.0.1', admin_port=stack.port), clients=4)
    with load:
        wait_for(lambda: load.answered >= 40, 30, 'queries answered before the kill')
        worker = stack.job_services(f'singa.job_id={served["id"]}', 'singa.service_type=INFERENCE')[0]
        killed = service_containers(worker, running_only=True)
        assert len(killed) == 2
        freeze_until_it_holds_a_query(lambda: docker('pause', killed[0]), lambda: docker('unpause', killed[0]),
                                      load, REPLICA_TIMEOUT)
        docker('kill', killed[0])
        wait_for(lambda: set(service_containers(worker, running_only=True)) - set(killed), 60,
                 'Swarm to restart the killed inference worker')
        after_restart = load.answered
        wait_for(lambda: load.answered > after_restart + 40, 30, 'queries answered after the restart')
    print(f'\nserving through a killed replica: {load.answered} queries, none failed, slowest '
          f'{max(load.latencies):.3f} s')
    assert load.failures == []
    assert all(len(names) == 2 for names in load.models), 'a model lost its vote while its other replica was up'
    assert max(load.latencies) < REPLICA_TIMEOUT + 1.0, (max(load.latencies), len(load.latencies))
    predictor = stack.job_services(f'singa.job_id={served["id"]}', 'singa.service_type=PREDICT')[0]
    logs = docker('service', 'logs', predictor)
    assert 'sent it to another replica' in logs.stdout + logs.stderr
    dev.stop_inference_job('wine')
    wait_for(lambda: not stack.job_services() and not stack.containers(jobs_only=True), 60,
             'the services and containers of the stopped inference job to be removed')

    # 4. stop, keeping the data; start again
    stack.stop()
    assert stack.leftovers() == {'services': [], 'containers': []}
    assert stack.start()['password'] == printed['password']
    again = stack.client('dev@example.com', 'amber-walrus-5')
    assert sorted(d['name'] for d in again.get_datasets()) == ['wine-train', 'wine-val']
    assert again.get_train_job('wine')['trials_completed'] == 2 * BUDGET
    seen = '\n'.join(watch.stop())
    # The watch saw the stack's processes (long-lived ones: a short `docker service create` can
    # come and go between two looks on a loaded machine).
    for expected in ('singa.workers advisor', 'singa.workers train', 'singa.workers inference', 'gunicorn',
                     'postgres', 'redis-server'):
        assert expected in seen, expected
    secrets = {name: (stack.home / 'secrets' / name).read_text() for name in
               ('token_secret', 'postgres_password', 'redis_password', 'superadmin_password')}
    signer = types.SimpleNamespace(token_secret=secrets['token_secret'])
    secrets['train job Redis password'] = job_redis_credentials(signer, 'TRAIN', job['id'])[1]
    secrets['inference job Redis password'] = job_redis_credentials(signer, 'PREDICT', served['id'])[1]
    assert watch.holding(secrets) == []

    # 5. stop and purge
    stack.stop(purge=True)
    assert stack.everything() == {'services': [], 'containers': [], 'volumes': [], 'secrets': [],
                                  'network': False, 'home': False}


def _service_id_prefix(stack: SwarmStack, trial: dict) -> str:
    """The service id of the worker running ``trial`` (its worker id starts with the id's first
    8 characters; the service's label holds the whole id)."""
    prefix = trial['worker_id'].split('-')[0]
    for name in stack.job_services('singa.service_type=TRAIN'):
        service_id = docker('service', 'inspect', '--format', '{{index .Spec.Labels "singa.service_id"}}',
                            name).stdout.strip()
        if service_id.startswith(prefix):
            return service_id
    raise AssertionError(f'no train service for worker {trial["worker_id"]}')
