"""What the process container manager does beyond the shared contract (no servers needed)."""
import os
import signal
import sys
import threading
import time

import pytest

from singa.config import Settings
from singa.constants import ServiceStatus
from singa.container.base import ContainerService, Mount, ServiceSpec
from singa.container.local_process import ProcessContainerManager
from singa.container.process_files import ProcessRef, owned_group, read_json
from singa.errors import ContainerError

SLEEP = 'import time\nwhile True: time.sleep(1)'
# A replica that starts a child of its own (as gunicorn or a data loader would) and names it.
WITH_CHILD = f'''
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", {SLEEP!r}])
open("child.pid", "w").write(str(child.pid))
while True: time.sleep(1)
'''


@pytest.fixture
def manager(tmp_path):
    settings = Settings.from_env({}, data_dir=str(tmp_path / 'data'), storage_dir=str(tmp_path / 'storage'),
                                 predictor_port_min=32100, predictor_port_max=32199)
    manager = ProcessContainerManager(settings)
    yield manager
    for service in manager.list_services():
        manager.destroy_service(service, timeout=1.0)


def _spec(code, **kwargs):
    values = dict(name='svc', service_type='TRAIN', command=['-c', code], environment={})
    values.update(kwargs)
    return ServiceSpec(**values)


def _wait(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


def _child_ref(manager, service):
    path = os.path.join(manager.services_dir, service.id, 'work', 'child.pid')
    assert _wait(lambda: os.path.exists(path) and open(path).read())
    return ProcessRef.of(int(open(path).read()))


def test_gpus_are_refused_and_nothing_is_left(manager):
    with pytest.raises(ContainerError, match='GPU'):
        manager.create_service(_spec(SLEEP, gpus=1))
    assert manager.list_services() == []


def test_remapping_mounts_is_refused_but_host_paths_work(manager, tmp_path):
    with pytest.raises(ContainerError, match='mount'):
        manager.create_service(_spec(SLEEP, mounts=[Mount(str(tmp_path), '/storage')]))
    service = manager.create_service(_spec('pass', mounts=[Mount(str(tmp_path), str(tmp_path))]))
    assert _wait(lambda: manager.get_service_status(service) == ServiceStatus.STOPPED)


def test_a_service_needs_a_replica_and_a_command(manager):
    with pytest.raises(ContainerError):
        manager.create_service(_spec(SLEEP, replicas=0))
    with pytest.raises(ContainerError):
        manager.create_service(ServiceSpec(name='x', service_type='TRAIN', command=[], environment={}))
    assert manager.list_services() == []


def test_killed_supervisor_means_errored_and_destroy_kills_what_it_left(manager):
    service = manager.create_service(_spec(WITH_CHILD))
    child = _child_ref(manager, service)
    replica = ProcessRef.from_dict(manager.replica_states(service)[0]['process'])
    state = read_json(os.path.join(manager.services_dir, service.id, 'state.json'))
    os.kill(state['supervisor']['pid'], signal.SIGKILL)
    assert _wait(lambda: manager.get_service_status(service) == ServiceStatus.ERRORED)
    assert replica.alive() and child.alive()
    manager.destroy_service(service, timeout=2.0)
    assert not replica.alive() and not child.alive()


def test_destroy_kills_the_children_of_replicas(manager):
    service = manager.create_service(_spec(WITH_CHILD))
    child = _child_ref(manager, service)
    manager.destroy_service(service, timeout=2.0)
    assert not child.alive()


def test_a_replica_that_exits_takes_its_children_with_it(manager):
    code = WITH_CHILD.replace('while True: time.sleep(1)', 'time.sleep(0.5)')
    service = manager.create_service(_spec(code, restart=False))
    child = _child_ref(manager, service)
    assert _wait(lambda: manager.get_service_status(service) == ServiceStatus.STOPPED)
    assert _wait(lambda: not child.alive(), timeout=5)


def test_published_ports_are_distinct_and_in_range_under_concurrency(manager):
    services = []

    def create():
        services.append(manager.create_service(_spec(SLEEP, publish_port=8000)))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ports = [s.ext_port for s in services]
    assert len(set(ports)) == 4 and all(32100 <= p <= 32199 for p in ports)
    assert all(s.port == s.ext_port and s.hostname == '127.0.0.1' for s in services)


def test_replica_output_goes_to_its_log_file(manager):
    service = manager.create_service(_spec('import os; print("hello from", os.environ["SINGA_REPLICA_INDEX"])',
                                           name='logged job', replicas=2))
    assert _wait(lambda: manager.get_service_status(service) == ServiceStatus.STOPPED)
    logs = service.info['log_files']
    assert [os.path.basename(p) for p in logs] == ['logged-job-1.log', 'logged-job-2.log']
    assert 'hello from 2' in open(logs[1]).read()
    manager.destroy_service(service)
    assert os.path.exists(logs[0])             # logs outlive the service


def test_unknown_service_is_errored_and_bad_ids_are_refused(manager):
    assert manager.get_service_status(ContainerService('nothing-1234', 'x', '127.0.0.1')) == ServiceStatus.ERRORED
    manager.destroy_service(ContainerService('nothing-1234', 'x', '127.0.0.1'))
    with pytest.raises(ContainerError):
        manager.destroy_service(ContainerService('../../etc', 'x', '127.0.0.1'))


def test_supervisor_is_detached_from_the_creating_process(manager):
    service = manager.create_service(_spec(SLEEP))
    state = read_json(os.path.join(manager.services_dir, service.id, 'state.json'))
    supervisor = state['supervisor']['pid']
    assert os.getpgid(supervisor) != os.getpgid(0)
    with open(f'/proc/{supervisor}/stat') as f:
        assert int(f.read().rsplit(')', 1)[1].split()[1]) != os.getpid()   # not our child
    replica = ProcessRef.from_dict(manager.replica_states(service)[0]['process'])
    assert os.getpgid(replica.pid) == replica.pid and owned_group(replica)
    assert sys.executable in open(f'/proc/{replica.pid}/cmdline').read().replace('\0', ' ')



def test_storage_that_cannot_hold_logs_is_a_container_error(tmp_path):
    blocker = tmp_path / 'not-a-dir'
    blocker.write_text('')
    broken = ProcessContainerManager(Settings.from_env({}, data_dir=str(tmp_path / 'data'),
                                                       storage_dir=str(blocker)))
    with pytest.raises(ContainerError, match='log'):
        broken.create_service(_spec('pass'))
    assert broken.list_services() == []


def test_a_replica_that_cannot_be_started_again_errors_the_service(manager):
    # The first run removes its working directory, so the restart cannot even be spawned.
    code = 'import os, shutil; shutil.rmtree(os.getcwd()); raise SystemExit(1)'
    service = manager.create_service(_spec(code, max_restarts=1))
    assert _wait(lambda: manager.get_service_status(service) == ServiceStatus.ERRORED)
    replica = manager.replica_states(service)[0]
    assert (replica['exit_code'], replica['restarts'], replica['state']) == (127, 1, 'failed')
