"""The docker CLI for the tests that need a Docker Engine, and the test resources they create.

The CLI (not docker-py) on purpose: the tests check what an operator would run, and
``singa.container.docker_swarm`` stays the only importer of the Docker SDK.
"""
import subprocess
import time
import uuid


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the docker CLI; on failure (with ``check``) raise with its output in the message."""
    result = subprocess.run(['docker', *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f'docker {" ".join(args)} exited {result.returncode}:\n'
                             f'{result.stdout}\n{result.stderr}')
    return result


def remove_network(name: str, timeout: float = 60.0) -> None:
    """Remove an overlay network once the last task's endpoint has left it (Swarm detaches
    removed services' containers asynchronously)."""
    deadline = time.monotonic() + timeout
    while docker('network', 'rm', name, check=False).returncode != 0:
        if docker('network', 'inspect', name, check=False).returncode != 0:
            return
        assert time.monotonic() < deadline, f'network {name} still in use after {timeout:g} s'
        time.sleep(0.5)


class DockerResources:
    """Names for test containers and volumes, all removed at teardown."""

    def __init__(self):
        self.prefix = f'singa-test-{uuid.uuid4().hex[:8]}'
        self.containers: list[str] = []
        self.volumes: list[str] = []

    def container_name(self, role: str) -> str:
        name = f'{self.prefix}-{role}-{len(self.containers)}'
        self.containers.append(name)
        return name

    def volume(self, role: str) -> str:
        name = f'{self.prefix}-{role}'
        docker('volume', 'create', '--label', 'singa.test=1', name)
        self.volumes.append(name)
        return name

    def cleanup(self):
        for name in self.containers:
            docker('rm', '--force', '--volumes', name, check=False)
        for name in self.volumes:
            docker('volume', 'rm', '--force', name, check=False)


def admin_post_mortem() -> str:
    """What became of each SingaAuto admin service on this engine's swarm: its tasks (with their
    errors), and each of its containers' end (exit code, OOM kill, last health checks, last log
    lines). For a failed Swarm test's report: an admin that stopped answering says why here."""
    lines = []
    try:
        admins = [name for name in docker('service', 'ls', '--format', '{{.Name}}', check=False).stdout.split()
                  if name.endswith('-admin')]
        for service in admins:
            lines.append(f'== {service}')
            lines.append(docker('service', 'ps', '--no-trunc', '--format',
                                '{{.Name}} {{.CurrentState}} {{.DesiredState}} {{.Error}}', service,
                                check=False).stdout.rstrip())
            containers = docker('ps', '-a', '--quiet', '--filter', f'label=com.docker.swarm.service.name={service}',
                                check=False).stdout.split()
            for container in containers:
                lines.append(docker('inspect', '--format', '-- {{.Name}} {{.State.Status}} exit {{.State.ExitCode}}'
                                    ' oom {{.State.OOMKilled}} {{.State.StartedAt}}..{{.State.FinishedAt}}'
                                    ' {{.State.Error}}{{if .State.Health}} health {{.State.Health.Status}}'
                                    '{{range .State.Health.Log}} | {{.ExitCode}} {{.Output}}{{end}}{{end}}',
                                    container, check=False).stdout.rstrip())
                logs = docker('logs', '--tail', '15', container, check=False)
                lines.append((logs.stdout + logs.stderr).rstrip())
    except Exception as e:     # a report's extra: never the reason a test fails
        lines.append(f'(could not look: {e!r})')
    return '\n'.join(lines)
