"""What the Swarm container manager sends to and reads from the Docker Engine API, as plain data.

``service_document`` turns a ``ServiceSpec`` into the JSON body of ``POST /services/create``
(API 1.41, Docker 20.10); ``container_service`` and ``service_status`` read services and tasks
back. Nothing here imports ``docker``, so all of it is unit-tested without a daemon.

How a spec becomes a service:

- command ``['python', *spec.command]`` (the images' entry points are overridden), with ``init``
  (``docker-init`` as PID 1 forwards signals and reaps children), a stop grace period, and the
  image's health check (if any) run every 2 s (Swarm replaces a task that turns unhealthy);
- environment: exactly ``spec.environment`` plus ``SINGA_REPLICA_INDEX`` (the task's slot,
  ``{{.Task.Slot}}``: distinct per replica, counted from 1), ``SINGA_TASK_ID`` (``{{.Task.ID}}``:
  a restarted replica is a new task), ``SINGA_LOG_FILE`` (the replica's log file on the shared
  storage, mounted writable) and, with a published port,
  ``SINGA_SERVICE_PORT`` (the container port); the image's own variables (``PATH``...) stay;
- ``endpoint_mode=dnsrr`` (no virtual IP: works without IPVS) and a published port in ``host``
  mode on the port the manager chose;
- restart ``on-failure`` at most ``max_restarts`` times (``none`` without ``restart``);
- labels: the spec's, plus ``singa.swarm.*`` ones the manager uses to find its services again;
- reservations: ``spec.cpus`` and ``spec.memory_mb``, and GPUs as generic resources
  (``Reservations.GenericResources``) of kind ``settings.gpu_resource``;
- placement constraints chosen by the manager (``swarm_placement``);
- a service that runs model code (``spec.confinement``) is locked down: a read-only root file
  system with a size-bounded ``/tmp``, every capability dropped, the image's non-root user,
  memory (no swap) and process limits, and no init process, so that the worker (which keeps its
  credentials out of the model code's reach, ``singa.sandbox.container``) is PID 1 and no other
  process holds its environment. It joins the workers' network, which reaches Redis and nothing
  else.
"""
import datetime
import re
from typing import Iterable, Mapping, Optional

from singa.constants import ServiceStatus
from singa.container.base import Confinement, ContainerService, Mount, ServiceSpec

LABEL_PREFIX = 'singa.swarm.'
LABEL_STACK = LABEL_PREFIX + 'stack'
LABEL_SERVICE_TYPE = LABEL_PREFIX + 'service_type'
LABEL_EXT_HOSTNAME = LABEL_PREFIX + 'ext_hostname'
RESTART_DELAY_NS = 1_000_000_000
NANOSECONDS = 1_000_000_000
REPLICA_TEMPLATE = '{{.Task.Slot}}'          # Swarm fills it in per task: the replica, from 1
# A task whose image has a health check counts as running only once the check passes; the images'
# own interval (10 s) would keep a predictor "starting" for that long. Only the timing is set here:
# the check itself stays the image's, and images without one get none. A check may take 5 s, and
# 5 must fail in a row: on a loaded machine a check's own start can take seconds, and replacing a
# slow but working predictor would turn load into an outage.
HEALTH_CHECK = {'Interval': 2 * NANOSECONDS, 'Timeout': 5 * NANOSECONDS, 'Retries': 5}

# Task states (swarmkit's api.TaskState), in lifecycle order.
_BEFORE_RUNNING = frozenset({'new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing',
                             'ready', 'starting'})
_ENDED = frozenset({'complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove'})


def service_name(spec_name: str, suffix: str) -> str:
    """A Swarm service name (at most 63 characters, DNS-safe) for a spec name."""
    cleaned = re.sub(r'[^a-z0-9-]', '-', spec_name.lower()).strip('-')[:55] or 'service'
    return f'{cleaned}-{suffix}'


def mount_document(mount: Mount) -> dict:
    if mount.source.startswith('/'):
        return {'Type': 'bind', 'Source': mount.source, 'Target': mount.target, 'ReadOnly': mount.read_only}
    document = {'Type': 'volume', 'Source': mount.source, 'Target': mount.target, 'ReadOnly': mount.read_only}
    if mount.volume_options:
        document['VolumeOptions'] = {'DriverConfig': {'Name': 'local', 'Options': dict(mount.volume_options)}}
    return document


MB = 1 << 20
# What the worker itself needs beside the model code in a confined container.
RUNNER_MEMORY_MB = 512
RUNNER_PIDS = 64


def service_document(spec: ServiceSpec, *, name: str, stack: str, network: str, constraints: Iterable[str],
                     host_port: Optional[int] = None, ext_hostname: str = '', stop_grace_seconds: float = 10.0,
                     gpu_resource: str = 'NVIDIA-GPU', log_file: str = '', log_mounts: Iterable[Mount] = ()) -> dict:
    """The body of ``POST /services/create`` for ``spec`` (``network``: the one it joins; ``log_file``:
    where each replica logs, in the container, with ``log_mounts`` to make it writable)."""
    env = {str(k): str(v) for k, v in spec.environment.items()}
    env['SINGA_REPLICA_INDEX'] = REPLICA_TEMPLATE
    env['SINGA_TASK_ID'] = '{{.Task.ID}}'
    if log_file:
        env['SINGA_LOG_FILE'] = log_file
    labels = {str(k): str(v) for k, v in spec.labels.items()}
    labels.update({LABEL_STACK: stack, LABEL_SERVICE_TYPE: str(spec.service_type)})
    endpoint = {'Mode': 'dnsrr'}
    if spec.publish_port is not None:
        env['SINGA_SERVICE_PORT'] = str(spec.publish_port)
        labels[LABEL_EXT_HOSTNAME] = ext_hostname
        endpoint['Ports'] = [{'Protocol': 'tcp', 'TargetPort': int(spec.publish_port),
                              'PublishedPort': int(host_port), 'PublishMode': 'host'}]
    restarts = spec.max_restarts if spec.restart else 0
    task = {
        'ContainerSpec': {
            'Image': spec.image,
            'Command': ['python', *[str(a) for a in spec.command]],
            'Env': [f'{k}={v}' for k, v in sorted(env.items())],
            'Labels': {LABEL_STACK: stack},
            'Mounts': [mount_document(m) for m in (*spec.mounts, *log_mounts)],
            'Init': True,
            'StopGracePeriod': int(stop_grace_seconds * NANOSECONDS),
            'HealthCheck': dict(HEALTH_CHECK),
        },
        'RestartPolicy': ({'Condition': 'on-failure', 'Delay': RESTART_DELAY_NS, 'MaxAttempts': restarts}
                          if restarts > 0 else {'Condition': 'none'}),
        'Placement': {'Constraints': sorted(set(constraints))},
        'Networks': [{'Target': network}],
    }
    reservations = {}
    if spec.cpus:
        reservations['NanoCPUs'] = int(spec.cpus * NANOSECONDS)
    if spec.memory_mb:
        reservations['MemoryBytes'] = int(spec.memory_mb) * MB
    if spec.gpus:
        reservations['GenericResources'] = [{'DiscreteResourceSpec': {'Kind': gpu_resource, 'Value': int(spec.gpus)}}]
    if reservations:
        task['Resources'] = {'Reservations': reservations}
    if spec.confinement is not None:
        confine(task, spec.confinement)
    return {'Name': name, 'Labels': labels, 'TaskTemplate': task,
            'Mode': {'Replicated': {'Replicas': int(spec.replicas)}}, 'EndpointSpec': endpoint}


def confine(task: dict, confinement: Confinement) -> None:
    """Lock down the task of a service that runs model code (see the module docstring)."""
    container = task['ContainerSpec']
    container.update({'ReadOnly': True, 'CapabilityDrop': ['ALL'], 'Init': False})
    container['Mounts'] = container['Mounts'] + [{
        'Type': 'tmpfs', 'Target': '/tmp',
        'TmpfsOptions': {'SizeBytes': int(confinement.tmp_mb) * MB, 'Mode': 0o1777}}]
    limits = {'MemoryBytes': (int(confinement.memory_mb) + RUNNER_MEMORY_MB) * MB,
              'Pids': int(confinement.max_pids) + RUNNER_PIDS}
    task.setdefault('Resources', {})['Limits'] = limits


def user_labels(labels: Mapping[str, str]) -> dict:
    return {k: v for k, v in (labels or {}).items() if not k.startswith(LABEL_PREFIX)}


def container_service(service: dict) -> ContainerService:
    """The ``ContainerService`` of a service as ``GET /services`` describes it (so equal to what
    ``create_service`` returned)."""
    spec = service['Spec']
    labels = spec.get('Labels') or {}
    ports = (spec.get('EndpointSpec') or {}).get('Ports') or []
    port = ports[0] if ports else None
    return ContainerService(
        id=service['ID'], name=spec['Name'], hostname=spec['Name'],
        port=port['TargetPort'] if port else None,
        ext_hostname=labels.get(LABEL_EXT_HOSTNAME) if port else None,
        ext_port=port['PublishedPort'] if port else None,
        info={'service_type': labels.get(LABEL_SERVICE_TYPE, ''), 'labels': user_labels(labels),
              'replicas': ((spec.get('Mode') or {}).get('Replicated') or {}).get('Replicas', 1)})


def published_ports(services: Iterable[dict]) -> set:
    """Every host port the given services publish (any mode)."""
    ports = set()
    for service in services:
        for port in ((service.get('Spec') or {}).get('EndpointSpec') or {}).get('Ports') or []:
            if port.get('PublishedPort'):
                ports.add(int(port['PublishedPort']))
    return ports


def tasks_by_slot(tasks: Iterable[dict]) -> dict:
    """Tasks grouped by slot, each group oldest first."""
    slots: dict = {}
    for task in tasks:
        slots.setdefault(task.get('Slot', 0), []).append(task)
    return {slot: sorted(group, key=lambda t: _timestamp(t.get('CreatedAt'))) for slot, group in slots.items()}


def service_status(service: dict, tasks: Iterable[dict]) -> ServiceStatus:
    """The contract's status of a service from its tasks.

    Per slot (replica), the newest task tells: running; about to run (the slot's first task:
    deploying; a later one: being restarted); complete (exited 0: done); or ended otherwise, which
    is "being restarted" while the restart policy has attempts left (the replacement task may not
    exist yet) and "failed" after. Swarm keeps a slot's last few tasks (the task history
    retention limit, 5 by default), which is why the manager refuses more restarts than that.
    """
    policy = service['Spec']['TaskTemplate'].get('RestartPolicy') or {}
    attempts = int(policy.get('MaxAttempts') or 0) if policy.get('Condition') == 'on-failure' else 0
    states = []
    for group in tasks_by_slot(tasks).values():
        state = ((group[-1].get('Status') or {}).get('State') or 'new').lower()
        if state == 'running':
            states.append('running')
        elif state in _BEFORE_RUNNING:
            states.append('restarting' if len(group) > 1 else 'deploying')
        elif state == 'complete':
            states.append('done')
        else:
            states.append('restarting' if len(group) - 1 < attempts else 'failed')
    if not states:
        return ServiceStatus.DEPLOYING
    if 'running' in states or 'restarting' in states:
        return ServiceStatus.RUNNING
    if 'deploying' in states:
        return ServiceStatus.DEPLOYING
    return ServiceStatus.ERRORED if 'failed' in states else ServiceStatus.STOPPED


def running_tasks(tasks: Iterable[dict]) -> set:
    """The ids of the tasks that run, or are on their way to, and are meant to."""
    return {t['ID'] for t in tasks if t.get('DesiredState') == 'running'
            and ((t.get('Status') or {}).get('State') or 'new').lower() not in _ENDED}


def live_containers(tasks: Iterable[dict]) -> list:
    """(node id, container id) of every task whose container may still run."""
    found = []
    for task in tasks:
        status = task.get('Status') or {}
        container = (status.get('ContainerStatus') or {}).get('ContainerID')
        if container and status.get('State') not in _ENDED:
            found.append((task.get('NodeID'), container))
    return found


def _timestamp(value: Optional[str]) -> datetime.datetime:
    """Docker's RFC 3339 times with nanoseconds (trailing zeros trimmed), to microseconds."""
    if not value:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    match = re.match(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$', value)
    if not match:
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    base, fraction, zone = match.groups()
    micro = (fraction or '0')[:6].ljust(6, '0')
    zone = '+00:00' if zone == 'Z' else zone
    return datetime.datetime.fromisoformat(f'{base}.{micro}{zone}')
