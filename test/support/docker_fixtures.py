"""Fixtures for the tests that need a Docker Engine: the image tests and the live-swarm tests in
``test/swarm/``, and the Swarm run of the container contract suite in ``test/integration/``.

They run unless ``SINGA_SKIP_SWARM=1`` (set by the test command's explicit ``--skip-swarm``).
Otherwise Docker must work: ``scripts/ensure_docker.sh`` installs and starts it when it can, and
if it cannot, the tests FAIL with its explanation rather than skip quietly.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docker_cli import DockerResources

REPO = Path(__file__).resolve().parents[2]
SKIP_ENV = 'SINGA_SKIP_SWARM'


def swarm_skipped() -> bool:
    return os.environ.get(SKIP_ENV) == '1'


@pytest.fixture(scope='session')
def docker_engine():
    """A Docker Engine that answers, or a failure that says why (a skip only when asked for)."""
    if swarm_skipped():
        pytest.skip(f'{SKIP_ENV}=1: Docker/Swarm tests skipped on request')
    result = subprocess.run([str(REPO / 'scripts' / 'ensure_docker.sh')],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail('Docker is not available, so the Swarm tests cannot run. Fix Docker, or pass the '
                    f'test command --skip-swarm ({SKIP_ENV}=1) to skip them explicitly.\n'
                    f'scripts/ensure_docker.sh said:\n{result.stderr}', pytrace=False)


@pytest.fixture(scope='session')
def singa_images(docker_engine) -> str:
    """Build (or, when nothing changed, re-tag from cache in seconds) every image; the version tag."""
    result = subprocess.run([str(REPO / 'scripts' / 'build_images.sh')],
                            capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        pytest.fail(f'scripts/build_images.sh failed:\n{result.stderr[-4000:]}', pytrace=False)
    return subprocess.run([sys.executable, str(REPO / 'scripts' / 'build_support.py'), 'version'],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope='session')
def swarm(docker_engine) -> str:
    """This Docker Engine as a Swarm manager (initialised here if it is not in a swarm); its node id.
    The swarm is left active afterwards, like the engine: it is infrastructure, not test data."""
    from docker_cli import docker
    state = docker('info', '--format', '{{.Swarm.LocalNodeState}}').stdout.strip()
    if state == 'inactive':
        docker('swarm', 'init', '--advertise-addr', '127.0.0.1')
    elif state != 'active':
        pytest.fail(f'this Docker Engine is in swarm state {state!r}; the Swarm tests need a manager node')
    return docker('info', '--format', '{{.Swarm.NodeID}}').stdout.strip()


@pytest.fixture
def docker_resources(docker_engine):
    resources = DockerResources()
    yield resources
    resources.cleanup()
