"""The container manager contract (``singa.container.base.BaseContainerManager``), one suite run
against every manager in ``container_harness.HARNESSES``."""
import os
import time
import uuid

import pytest

from container_harness import HARNESSES, IGNORE_SIGTERM, LOG_HELLO, SERVE_ENV, SLEEP, get_json
from singa.constants import ServiceStatus
from singa.container.base import wait_until
from singa.errors import ContainerError

ADMIN_SECRETS = {'SINGA_POSTGRES_PASSWORD': 'pg-secret-8d1f', 'SINGA_TOKEN_SECRET': 'token-secret-8d1f',
                 'SINGA_SUPERADMIN_PASSWORD': 'su-secret-8d1f', 'SINGA_REDIS_PASSWORD': 'redis-secret-8d1f'}


@pytest.fixture(params=sorted(HARNESSES))
def harness(request, settings, tmp_path):
    make = HARNESSES[request.param]
    fixtures = {name: request.getfixturevalue(name) for name in getattr(make, 'fixtures', ())}
    yield from make(settings, tmp_path, **fixtures)


def _name(prefix: str) -> str:
    return f'{prefix}-{uuid.uuid4().hex[:6]}'


def test_created_service_runs(harness):
    service = harness.create(harness.spec(_name('run'), SLEEP, replicas=2))
    assert harness.wait_status(service, ServiceStatus.RUNNING) == ServiceStatus.RUNNING


def test_replicas_that_exit_zero_leave_the_service_stopped(harness):
    service = harness.create(harness.spec(_name('done'), 'print("done")', replicas=2))
    assert harness.wait_status(service, ServiceStatus.STOPPED) == ServiceStatus.STOPPED
    assert harness.restart_count(harness.manager, service, 0) == 0


def test_crashing_replica_is_restarted_then_errored(harness):
    service = harness.create(harness.spec(_name('crash'), 'import sys; sys.exit(3)', max_restarts=2))
    assert harness.wait_status(service, ServiceStatus.ERRORED) == ServiceStatus.ERRORED
    assert harness.restart_count(harness.manager, service, 0) == 2


def test_crashing_replica_is_not_restarted_without_restart_policy(harness):
    service = harness.create(harness.spec(_name('norestart'), 'import sys; sys.exit(3)', restart=False))
    assert harness.wait_status(service, ServiceStatus.ERRORED) == ServiceStatus.ERRORED
    assert harness.restart_count(harness.manager, service, 0) == 0


def test_killed_replica_is_restarted_as_a_new_task(harness):
    service = harness.create(harness.spec(_name('killed'), SERVE_ENV, publish_port=8080))
    first = get_json(service)
    assert harness.manager.running_tasks(service) == {first['env']['SINGA_TASK_ID']}
    harness.kill_replica(harness.manager, service, 0)
    # The manager knows the killed task is gone before the replacement answers.
    assert wait_until(lambda: first['env']['SINGA_TASK_ID'] not in harness.manager.running_tasks(service), 30)
    second = get_json(service, unlike=first['token'])
    assert second['token'] != first['token']
    assert second['env']['SINGA_TASK_ID'] != first['env']['SINGA_TASK_ID']
    assert harness.manager.running_tasks(service) == {second['env']['SINGA_TASK_ID']}
    assert harness.manager.get_service_status(service) == ServiceStatus.RUNNING
    assert harness.restart_count(harness.manager, service, 0) == 1


def test_running_tasks_are_those_of_live_replicas(harness):
    service = harness.create(harness.spec(_name('tasks'), SLEEP, replicas=2))
    assert harness.wait_status(service, ServiceStatus.RUNNING) == ServiceStatus.RUNNING
    assert wait_until(lambda: len(harness.manager.running_tasks(service)) == 2, 30)
    done = harness.create(harness.spec(_name('tasks-done'), 'print("done")'))
    assert harness.wait_status(done, ServiceStatus.STOPPED) == ServiceStatus.STOPPED
    assert harness.manager.running_tasks(done) == set()


def test_published_port_is_reachable_and_environment_is_exactly_the_spec(harness, monkeypatch):
    for name, value in ADMIN_SECRETS.items():
        monkeypatch.setenv(name, value)
    spec_env = {'SINGA_JOB_ID': 'job-1', 'SINGA_SERVICE_TYPE': 'PREDICT'}
    service = harness.create(harness.spec(_name('env'), SERVE_ENV, publish_port=8080,
                                          environment=spec_env, service_type='PREDICT'))
    assert service.ext_port and service.ext_hostname
    env = get_json(service)['env']
    for name, value in spec_env.items():
        assert env[name] == value
    assert env['SINGA_REPLICA_INDEX'] == '1'
    assert env['SINGA_SERVICE_PORT']
    leaked = [k for k, v in env.items() if v in ADMIN_SECRETS.values() or k in ADMIN_SECRETS]
    assert leaked == []
    assert env['SINGA_TASK_ID']
    extra = set(env) - set(spec_env) - {'SINGA_REPLICA_INDEX', 'SINGA_TASK_ID', 'SINGA_SERVICE_PORT', 'SINGA_LOG_FILE'}
    assert extra <= harness.basic_env_names


def test_destroy_stops_replicas_that_ignore_sigterm(harness):
    service = harness.create(harness.spec(_name('stubborn'), IGNORE_SIGTERM, replicas=2))
    assert harness.wait_status(service, ServiceStatus.RUNNING) == ServiceStatus.RUNNING
    time.sleep(0.3)                  # let the workers install their SIGTERM handler
    before = harness.snapshot(harness.manager, service)
    assert before
    started = time.monotonic()
    harness.manager.destroy_service(service, timeout=1.0)
    assert time.monotonic() - started >= 1.0
    assert harness.leftovers(before) == []
    assert service.id not in [s.id for s in harness.manager.list_services()]


def test_destroy_twice_is_not_an_error(harness):
    service = harness.create(harness.spec(_name('twice'), SLEEP))
    before = harness.snapshot(harness.manager, service)
    assert before
    harness.manager.destroy_service(service, timeout=2.0)
    harness.manager.destroy_service(service, timeout=2.0)
    assert harness.leftovers(before) == []


def test_list_services_filters_by_labels(harness):
    job = uuid.uuid4().hex
    a = harness.create(harness.spec(_name('a'), SLEEP, labels={'job': job, 'kind': 'a'}))
    b = harness.create(harness.spec(_name('b'), SLEEP, labels={'job': job, 'kind': 'b'}))
    harness.create(harness.spec(_name('other'), SLEEP, labels={'job': 'other-' + job}))
    assert sorted(s.id for s in harness.manager.list_services({'job': job})) == sorted([a.id, b.id])
    assert harness.manager.list_services({'job': job, 'kind': 'a'}) == [a]
    assert harness.manager.list_services({'job': 'nobody'}) == []


def test_another_manager_instance_finds_and_destroys_services(harness):
    job = uuid.uuid4().hex
    service = harness.create(harness.spec(_name('found'), SLEEP, labels={'job': job}))
    assert harness.wait_status(service, ServiceStatus.RUNNING) == ServiceStatus.RUNNING
    other = harness.new_manager()
    assert other.list_services({'job': job}) == [service]
    assert other.get_service_status(service) == ServiceStatus.RUNNING
    before = harness.snapshot(other, service)
    other.destroy_service(service, timeout=2.0)
    assert harness.leftovers(before) == []
    assert harness.manager.list_services({'job': job}) == []


def test_a_spec_no_host_can_run_is_refused_and_leaves_nothing(harness):
    before = harness.manager.list_services()
    with pytest.raises(ContainerError):
        harness.create(harness.spec(_name('gpus'), SLEEP, gpus=1_000_000))
    assert harness.manager.list_services() == before


def test_each_replica_logs_to_its_own_file_on_the_storage_which_outlives_the_service(harness):
    name = _name('logged')
    service = harness.create(harness.spec(name, LOG_HELLO, replicas=2, log_dir='logs/job-1'))
    folder = os.path.join(harness.manager.settings.storage_dir, 'logs', 'job-1')
    paths = [os.path.join(folder, f'{name}-{replica}.log') for replica in (1, 2)]

    def logged(path, replica):
        try:
            with open(path) as f:
                return f'replica {replica} says hello' in f.read()
        except FileNotFoundError:
            return False
    deadline = time.monotonic() + 60
    while not all(logged(p, i) for i, p in enumerate(paths, 1)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(logged(p, i) for i, p in enumerate(paths, 1)), sorted(os.listdir(folder))
    harness.manager.destroy_service(service, timeout=2.0)
    assert all(logged(p, i) for i, p in enumerate(paths, 1))
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(p) for p in paths)
