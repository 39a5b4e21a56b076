"""What the Swarm manager would send to Docker, and how it reads tasks back, without a daemon; and
the shared-storage mounts, NFS options included (this kernel has no NFS client to try them on)."""
import pytest

from singa.config import Settings
from singa.constants import ServiceStatus
from singa.container import swarm_specs as specs
from singa.container.base import Confinement, Mount, ServiceSpec
from singa.container.storage import (file_stem, job_log_dir, job_mounts, log_mounts, nfs_volume_options,
                                     relative_path, storage_mounts)
from singa.errors import ConfigError


def _spec(**kwargs) -> ServiceSpec:
    values = dict(name='singa-train-1234abcd', service_type='TRAIN', command=['-m', 'singa.workers', 'train'],
                  environment={'SINGA_JOB_ID': 'j1'}, image='singa-worker:latest', labels={'singa.job_id': 'j1'})
    values.update(kwargs)
    return ServiceSpec(**values)


def _document(spec, **kwargs):
    values = dict(name='svc-abc123', stack='singa', network='singa', constraints=[], stop_grace_seconds=30)
    values.update(kwargs)
    return specs.service_document(spec, **values)


def test_a_train_worker_becomes_a_dnsrr_service_with_bounded_restarts():
    mounts = (Mount('/srv/singa', '/storage'), Mount('/srv/singa/data', '/storage/data', True))
    body = _document(_spec(mounts=mounts, max_restarts=3), constraints=['node.role==worker'])
    container = body['TaskTemplate']['ContainerSpec']
    assert container['Command'] == ['python', '-m', 'singa.workers', 'train']
    assert container['Env'] == ['SINGA_JOB_ID=j1', 'SINGA_REPLICA_INDEX={{.Task.Slot}}', 'SINGA_TASK_ID={{.Task.ID}}']
    assert container['Init'] is True and container['StopGracePeriod'] == 30 * 10**9
    assert container['Mounts'] == [
        {'Type': 'bind', 'Source': '/srv/singa', 'Target': '/storage', 'ReadOnly': False},
        {'Type': 'bind', 'Source': '/srv/singa/data', 'Target': '/storage/data', 'ReadOnly': True}]
    assert body['TaskTemplate']['RestartPolicy'] == {'Condition': 'on-failure', 'Delay': specs.RESTART_DELAY_NS,
                                                     'MaxAttempts': 3}
    assert body['TaskTemplate']['Placement'] == {'Constraints': ['node.role==worker']}
    assert body['TaskTemplate']['Networks'] == [{'Target': 'singa'}]
    assert body['EndpointSpec'] == {'Mode': 'dnsrr'}
    assert body['Labels'] == {'singa.job_id': 'j1', specs.LABEL_STACK: 'singa', specs.LABEL_SERVICE_TYPE: 'TRAIN'}
    assert body['Mode'] == {'Replicated': {'Replicas': 1}}
    assert 'Resources' not in body['TaskTemplate']


def test_no_restart_policy_means_condition_none():
    assert _document(_spec(restart=False))['TaskTemplate']['RestartPolicy'] == {'Condition': 'none'}
    assert _document(_spec(max_restarts=0))['TaskTemplate']['RestartPolicy'] == {'Condition': 'none'}


def test_a_predictor_publishes_its_port_in_host_mode_and_records_where():
    body = _document(_spec(service_type='PREDICT', publish_port=3003), host_port=31007, ext_hostname='10.0.0.5')
    assert body['EndpointSpec'] == {'Mode': 'dnsrr', 'Ports': [
        {'Protocol': 'tcp', 'TargetPort': 3003, 'PublishedPort': 31007, 'PublishMode': 'host'}]}
    assert 'SINGA_SERVICE_PORT=3003' in body['TaskTemplate']['ContainerSpec']['Env']
    service = {'ID': 'abc', 'Spec': body}
    assert specs.container_service(service).__dict__ == {
        'id': 'abc', 'name': 'svc-abc123', 'hostname': 'svc-abc123', 'port': 3003, 'ext_hostname': '10.0.0.5',
        'ext_port': 31007, 'info': {'service_type': 'PREDICT', 'labels': {'singa.job_id': 'j1'}, 'replicas': 1}}
    assert specs.published_ports([service, {'Spec': {'EndpointSpec': {'Mode': 'dnsrr'}}}]) == {31007}


def test_gpus_are_generic_resources_and_nfs_mounts_carry_driver_options():
    options = nfs_volume_options('nfs.example', '/export/singa')
    body = _document(_spec(gpus=2, mounts=(Mount('singa-storage', '/storage', False, options),)),
                     gpu_resource='NVIDIA-GPU')
    assert body['TaskTemplate']['Resources'] == {'Reservations': {'GenericResources': [
        {'DiscreteResourceSpec': {'Kind': 'NVIDIA-GPU', 'Value': 2}}]}}
    assert body['TaskTemplate']['ContainerSpec']['Mounts'] == [{
        'Type': 'volume', 'Source': 'singa-storage', 'Target': '/storage', 'ReadOnly': False,
        'VolumeOptions': {'DriverConfig': {'Name': 'local', 'Options': options}}}]


def test_a_service_that_runs_model_code_is_locked_down():
    body = _document(_spec(confinement=Confinement(memory_mb=1024, max_pids=100, tmp_mb=256)), network='singa-workers')
    container = body['TaskTemplate']['ContainerSpec']
    assert container['ReadOnly'] is True and container['CapabilityDrop'] == ['ALL']
    assert container['Init'] is False             # the worker is PID 1: no init holds its environment
    assert container['Mounts'][-1] == {'Type': 'tmpfs', 'Target': '/tmp',
                                       'TmpfsOptions': {'SizeBytes': 256 << 20, 'Mode': 0o1777}}
    assert body['TaskTemplate']['Resources']['Limits'] == {
        'MemoryBytes': (1024 + specs.RUNNER_MEMORY_MB) << 20, 'Pids': 100 + specs.RUNNER_PIDS}
    assert body['TaskTemplate']['Networks'] == [{'Target': 'singa-workers'}]
    plain = _document(_spec())['TaskTemplate']
    assert 'ReadOnly' not in plain['ContainerSpec'] and 'Resources' not in plain


def test_workers_that_run_model_code_get_exactly_their_job_files():
    settings = Settings.from_env({}, storage_volume='/srv/singa')
    mounts = job_mounts(settings, ['models/m1/template.py', 'data/d1.csv'], ['params/abc'])
    assert mounts == (Mount('/srv/singa/models/m1/template.py', '/storage/models/m1/template.py', True),
                      Mount('/srv/singa/data/d1.csv', '/storage/data/d1.csv', True),
                      Mount('/srv/singa/params/abc', '/storage/params/abc', False))
    with pytest.raises(ConfigError):
        job_mounts(settings, ['../etc/passwd'], [])
    nfs = Settings.from_env({}, nfs_server='10.0.0.2', nfs_path='/export/singa')
    assert job_mounts(nfs, ['data/d1.csv'], []) == storage_mounts(nfs)


def test_reservations_and_the_replica_log_file():
    log = Mount('/srv/singa/logs/j1/singa-train-1234abcd-{{.Task.Slot}}.log',
                '/storage/logs/j1/singa-train-1234abcd-{{.Task.Slot}}.log')
    body = _document(_spec(cpus=1.5, memory_mb=512, gpus=1), log_file=log.target, log_mounts=(log,))
    assert body['TaskTemplate']['Resources'] == {'Reservations': {
        'NanoCPUs': 1_500_000_000, 'MemoryBytes': 512 << 20,
        'GenericResources': [{'DiscreteResourceSpec': {'Kind': 'NVIDIA-GPU', 'Value': 1}}]}}
    container = body['TaskTemplate']['ContainerSpec']
    assert f'SINGA_LOG_FILE={log.target}' in container['Env']
    assert container['Mounts'] == [{'Type': 'bind', 'Source': log.source, 'Target': log.target, 'ReadOnly': False}]
    confined = _document(_spec(cpus=0.5, confinement=Confinement(memory_mb=1024, max_pids=100, tmp_mb=256)))
    assert confined['TaskTemplate']['Resources']['Reservations'] == {'NanoCPUs': 500_000_000}
    assert confined['TaskTemplate']['Resources']['Limits']['Pids'] == 100 + specs.RUNNER_PIDS


def test_each_service_may_write_only_its_own_log_file():
    settings = Settings.from_env({}, storage_volume='/srv/singa')
    relative = 'logs/j1/singa-train-1234abcd-{{.Task.Slot}}.log'
    assert log_mounts(settings, relative, ()) == (
        Mount('/srv/singa/' + relative, '/storage/' + relative),)
    assert job_log_dir('j1') == 'logs/j1' and file_stem('singa train/1') == 'singa-train-1'
    nfs = Settings.from_env({}, nfs_server='10.0.0.2', nfs_path='/export/singa')
    whole = storage_mounts(nfs)
    assert log_mounts(nfs, relative, ()) == whole[:1]        # NFS volumes cannot mount one file
    assert log_mounts(nfs, relative, whole) == ()             # a confined worker has the storage already
    for bad in ('../logs', '/etc', '.', 'logs/a b'):
        with pytest.raises(ConfigError):
            relative_path(bad)


def test_service_names_are_dns_safe_and_short():
    name = specs.service_name('Singa_TRAIN/' + 'x' * 80, 'a1b2c3')
    assert name.endswith('-a1b2c3') and len(name) <= 63 and name == name.lower() and '_' not in name


# -- status from tasks ----------------------------------------------------------------------------
def _service(condition='on-failure', attempts=2):
    policy = {'Condition': condition, 'MaxAttempts': attempts} if condition else {}
    return {'Spec': {'TaskTemplate': {'RestartPolicy': policy}}}


def _task(slot, state, second, desired='running'):
    return {'Slot': slot, 'DesiredState': desired, 'Status': {'State': state},
            'CreatedAt': f'2026-01-01T00:00:{second:02d}.5{second}Z'}


@pytest.mark.parametrize('tasks, status', [
    ([], ServiceStatus.DEPLOYING),
    ([_task(1, 'pending', 1)], ServiceStatus.DEPLOYING),
    ([_task(1, 'running', 1)], ServiceStatus.RUNNING),
    ([_task(1, 'complete', 1), _task(2, 'complete', 2)], ServiceStatus.STOPPED),
    ([_task(1, 'complete', 1), _task(2, 'running', 2)], ServiceStatus.RUNNING),
    # a failure with attempts left is a restart, even before the replacement task exists
    ([_task(1, 'failed', 1, 'shutdown')], ServiceStatus.RUNNING),
    ([_task(1, 'failed', 1, 'shutdown'), _task(1, 'starting', 3)], ServiceStatus.RUNNING),
    ([_task(1, 'failed', 1, 'shutdown'), _task(1, 'failed', 3, 'shutdown'), _task(1, 'failed', 5, 'shutdown')],
     ServiceStatus.ERRORED),
    ([_task(1, 'failed', 5, 'shutdown'), _task(1, 'failed', 1, 'shutdown'), _task(1, 'running', 9)],
     ServiceStatus.RUNNING),
    ([_task(1, 'failed', 1, 'shutdown'), _task(1, 'failed', 3, 'shutdown'), _task(1, 'failed', 5, 'shutdown'),
      _task(2, 'complete', 2)], ServiceStatus.ERRORED),
])
def test_status_from_tasks(tasks, status):
    assert specs.service_status(_service(), tasks) == status


def test_without_restarts_one_failure_is_final():
    assert specs.service_status(_service('none'), [_task(1, 'failed', 1)]) == ServiceStatus.ERRORED
    assert specs.service_status(_service(None), [_task(1, 'rejected', 1)]) == ServiceStatus.ERRORED


def test_tasks_are_ordered_by_creation_time_whatever_the_digits():
    early = {'Slot': 1, 'CreatedAt': '2026-01-01T00:00:01.9Z'}
    late = {'Slot': 1, 'CreatedAt': '2026-01-01T00:00:01.123456789Z'}
    later = {'Slot': 1, 'CreatedAt': '2026-01-01T00:00:02Z'}
    assert specs.tasks_by_slot([later, early, late]) == {1: [late, early, later]}


# -- shared storage -------------------------------------------------------------------------------
def test_nfs_volume_options_are_what_docker_volume_create_takes():
    assert nfs_volume_options('10.0.0.2', '/export/singa') == {
        'type': 'nfs', 'o': 'addr=10.0.0.2,rw,nfsvers=4', 'device': ':/export/singa'}
    assert nfs_volume_options('nfs.example', '/x', 'nfsvers=3,soft,timeo=50', read_only=True) == {
        'type': 'nfs', 'o': 'addr=nfs.example,ro,nfsvers=3,soft,timeo=50', 'device': ':/x'}


@pytest.mark.parametrize('server, path, extra', [
    ('nfs.example,rw', '/x', ''), ('', '/x', ''), ('nfs.example', 'relative', ''),
    ('nfs.example', '/a,b', ''), ('nfs.example', '/x', 'addr=evil'), ('nfs.example', '/x', 'rw'),
    ('nfs.example', '/x', 'a b'),
])
def test_nfs_values_cannot_smuggle_options(server, path, extra):
    with pytest.raises(ConfigError):
        nfs_volume_options(server, path, extra)


def test_storage_is_a_bind_mount_with_datasets_read_only():
    settings = Settings.from_env({}, storage_volume='/srv/singa/')
    assert storage_mounts(settings) == (Mount('/srv/singa', '/storage', False),
                                        Mount('/srv/singa/data', '/storage/data', True))
    assert all(m.read_only for m in storage_mounts(settings, read_only=True))
    fallback = Settings.from_env({}, storage_dir='/var/lib/singa/storage')
    assert storage_mounts(fallback)[0].source == '/var/lib/singa/storage'


def test_nfs_storage_is_two_volumes_with_datasets_read_only():
    settings = Settings.from_env({}, nfs_server='10.0.0.2', nfs_path='/export/singa', stack_name='prod')
    root, data = storage_mounts(settings)
    assert (root.source, root.target, root.read_only) == ('prod-storage', '/storage', False)
    assert root.volume_options['device'] == ':/export/singa' and ',rw,' in root.volume_options['o']
    assert (data.source, data.target, data.read_only) == ('prod-storage-data', '/storage/data', True)
    assert data.volume_options['device'] == ':/export/singa/data' and ',ro,' in data.volume_options['o']


@pytest.mark.parametrize('overrides', [
    {'storage_volume': 'a-volume-name'}, {'nfs_server': '10.0.0.2'}, {'nfs_path': '/export'},
    {'nfs_server': '10.0.0.2', 'nfs_path': '/export', 'storage_volume': '/not/a/name'},
])
def test_storage_settings_that_cannot_work_are_refused(overrides):
    with pytest.raises(ConfigError):
        storage_mounts(Settings.from_env({}, **overrides))


# -- secrets as files -----------------------------------------------------------------------------
def test_settings_read_from_files_like_swarm_secrets(tmp_path):
    secret = tmp_path / 'token_secret'
    secret.write_text('s3cret-from-a-file-0123\n')
    settings = Settings.from_env({'SINGA_TOKEN_SECRET_FILE': str(secret), 'SINGA_REDIS_PORT_FILE': ''})
    assert settings.token_secret == 's3cret-from-a-file-0123'
    with pytest.raises(ConfigError, match='set only one'):
        Settings.from_env({'SINGA_TOKEN_SECRET_FILE': str(secret), 'SINGA_TOKEN_SECRET': 'x'})
    with pytest.raises(ConfigError, match='cannot be read'):
        Settings.from_env({'SINGA_TOKEN_SECRET_FILE': str(tmp_path / 'missing')})
