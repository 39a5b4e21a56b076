"""The images that scripts/build_images.sh builds: they exist, every Python role imports what it
needs as the non-root user, and the PostgreSQL and Redis images start, take a password login,
refuse a wrong one, and keep their data on a volume when the container is replaced. A rebuild
after a code change leaves torch's layer alone and no dangling image of ours behind, and the fetch
containers get the host's pip configuration, the files it names included."""
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from docker_cli import docker

pytestmark = pytest.mark.swarm

ROLES = ('base', 'base-torch', 'admin', 'worker', 'worker-torch', 'predictor', 'postgres', 'redis')
REPO = Path(__file__).resolve().parents[2]
OURS = 'singa.built-by=build_images'      # the label of every image (and stage) build_images.sh makes

# What each Python role must be able to import (the role's own modules arrive with their code).
IMPORT_CHECKS = {
    'singa-admin': 'singa, flask, gunicorn, psycopg2, redis, docker',
    'singa-worker': 'singa, numpy, sklearn, optuna, psycopg2, redis',
    'singa-worker-torch': 'singa, numpy, sklearn, optuna, torch',
    'singa-predictor': 'singa, flask, gunicorn, redis, numpy',
}
READY_TIMEOUT = 60.0


def _published_port(container: str, port: int) -> int:
    return int(docker('port', container, str(port)).stdout.split()[0].rsplit(':', 1)[1])


def _wait_for(connect, what: str):
    """``connect()``'s result once it stops raising, failing after READY_TIMEOUT seconds."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            return connect()
        except (psycopg2.OperationalError, redis.ConnectionError) as e:
            if time.monotonic() > deadline:
                raise AssertionError(f'{what} not ready after {READY_TIMEOUT}s: {e}') from e
            time.sleep(0.2)


def test_every_image_is_tagged_with_version_and_latest(singa_images):
    for role in ROLES:
        versioned = docker('image', 'inspect', '--format', '{{.Id}}', f'singa-{role}:{singa_images}')
        latest = docker('image', 'inspect', '--format', '{{.Id}}', f'singa-{role}:latest')
        assert versioned.stdout == latest.stdout, role
        label = docker('image', 'inspect', '--format',
                       '{{index .Config.Labels "org.opencontainers.image.version"}}', f'singa-{role}:latest')
        assert label.stdout.strip() == singa_images, role
        ours = docker('image', 'inspect', '--format', '{{index .Config.Labels "singa.built-by"}}',
                      f'singa-{role}:latest')
        assert ours.stdout.strip() == OURS.split('=')[1], role


@pytest.mark.parametrize('image', sorted(IMPORT_CHECKS))
def test_python_role_imports_as_non_root(singa_images, image):
    code = (f'import os, {IMPORT_CHECKS[image]}\n'
            'assert os.getuid() != 0, "running as root"\n'
            'assert not os.access(singa.__file__, os.W_OK), "installed code is writable"\n'
            'print(os.getuid())')
    out = docker('run', '--rm', '--network', 'none', image, 'python', '-c', code).stdout
    assert out.strip() == '1000'


def test_worker_without_role_prints_usage(singa_images):
    result = docker('run', '--rm', '--network', 'none', 'singa-worker', check=False)
    assert result.returncode == 2
    assert 'advisor|train|inference' in result.stderr


def test_postgres_refuses_first_start_without_password(singa_images):
    result = docker('run', '--rm', 'singa-postgres', check=False)
    assert result.returncode != 0
    assert 'POSTGRES_PASSWORD' in result.stderr


def test_postgres_password_login_and_data_on_volume(singa_images, docker_resources):
    volume = docker_resources.volume('pgdata')

    def start() -> int:
        name = docker_resources.container_name('postgres')
        docker('run', '--detach', '--name', name, '--env', 'POSTGRES_PASSWORD=pg-test-password',
               '--volume', f'{volume}:/var/lib/postgresql/data', '--publish', '127.0.0.1::5432',
               'singa-postgres')
        assert docker('exec', name, 'id', '-u').stdout.strip() == '999'
        return _published_port(name, 5432)

    def connect(port: int, password: str = 'pg-test-password'):
        return psycopg2.connect(host='127.0.0.1', port=port, user='singa', dbname='singa',
                                password=password, connect_timeout=5)

    port = start()
    conn = _wait_for(lambda: connect(port), 'singa-postgres')
    with conn, conn.cursor() as cur:
        cur.execute('CREATE TABLE kept (value text)')
        cur.execute("INSERT INTO kept VALUES ('survives')")
    conn.close()
    with pytest.raises(psycopg2.OperationalError, match='password authentication failed'):
        connect(port, password='wrong')

    docker('rm', '--force', docker_resources.containers[-1])
    port = start()                                  # a new container on the same volume
    conn = _wait_for(lambda: connect(port), 'singa-postgres (second container)')
    with conn, conn.cursor() as cur:
        cur.execute('SELECT value FROM kept')
        assert cur.fetchall() == [('survives',)]
    conn.close()


def test_redis_password_from_secret_file_and_data_on_volume(singa_images, docker_resources, tmp_path):
    volume = docker_resources.volume('redisdata')
    secret = tmp_path / 'redis_password'
    secret.write_text('redis-test-password\n')      # as a Swarm secret arrives: a file, newline and all
    secret.chmod(0o444)

    def start() -> int:
        name = docker_resources.container_name('redis')
        docker('run', '--detach', '--name', name,
               '--env', 'REDIS_PASSWORD_FILE=/run/secrets/redis_password',
               '--volume', f'{secret}:/run/secrets/redis_password:ro',
               '--volume', f'{volume}:/data', '--publish', '127.0.0.1::6379', 'singa-redis')
        assert docker('exec', name, 'id', '-u').stdout.strip() == '999'
        return _published_port(name, 6379)

    def client(port: int, password=None) -> redis.Redis:
        # No retries: redis-py's default would retry a refused login with back-off for seconds.
        return redis.Redis(host='127.0.0.1', port=port, password=password, socket_timeout=5,
                           retry=Retry(NoBackoff(), 0))

    port = start()
    _wait_for(lambda: client(port, 'redis-test-password').ping(), 'singa-redis')
    client(port, 'redis-test-password').set('kept', 'survives')
    with pytest.raises(redis.AuthenticationError):
        client(port).get('kept')
    with pytest.raises(redis.AuthenticationError):
        client(port, 'wrong').get('kept')

    docker('rm', '--force', docker_resources.containers[-1])
    port = start()                                  # a new container on the same volume
    _wait_for(lambda: client(port, 'redis-test-password').ping(), 'singa-redis (second container)')
    assert client(port, 'redis-test-password').get('kept') == b'survives'


# -- a rebuild leaves nothing dangling --------------------------------------------------------

def _dangling_ours() -> set:
    return set(docker('images', '--quiet', '--no-trunc', '--filter', 'dangling=true',
                      '--filter', f'label={OURS}').stdout.split())


def _image_id(ref: str):
    result = docker('image', 'inspect', '--format', '{{.Id}}', ref, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _layers(ref: str) -> list:
    return json.loads(docker('image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref).stdout)


def _build_images(repo: Path, *args: str) -> None:
    """``scripts/build_images.sh`` of ``repo`` with the build cache of this checkout."""
    env = dict(os.environ, SINGA_BUILD_CACHE=os.environ.get('SINGA_BUILD_CACHE', str(REPO / '.singa')))
    result = subprocess.run([str(repo / 'scripts' / 'build_images.sh'), *args], env=env, capture_output=True,
                            text=True, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]


def _build_foreign(tag: str, value: str) -> str:
    """An image of someone else's, built FROM singa-worker (so it inherits our label)."""
    subprocess.run(['docker', 'build', '--quiet', '--tag', tag, '-'], capture_output=True, text=True, check=True,
                   input=f'FROM singa-worker:latest\nENV X={value}\n', env=dict(os.environ, DOCKER_BUILDKIT='0'))
    return _image_id(tag)


def test_a_code_change_rebuilds_the_torch_worker_above_torch_leaving_nothing_dangling(singa_images, tmp_path):
    """A change to the code rebuilds singa-worker-torch on top of the same singa-base-torch: torch
    is not installed again (the torch image, its build stage and their layers keep their ids) and
    the new image runs the new code. The image it replaces is removed; a dangling image that is not
    ours, even one built FROM ours, is left alone. Then the images are rebuilt from this checkout,
    as they were."""
    before = _dangling_ours()
    torch_refs = ('singa-base-torch:latest', 'singa-build-cache:base-torch')
    torch_ids = {ref: _image_id(ref) for ref in torch_refs}
    torch_layers = _layers('singa-base-torch:latest')
    replaced = _image_id('singa-worker-torch:latest')
    assert all(torch_ids.values()) and replaced, (torch_ids, replaced)
    assert _layers('singa-worker-torch:latest')[:len(torch_layers)] == torch_layers
    changed = tmp_path / 'repo'
    shutil.copytree(REPO, changed, ignore=shutil.ignore_patterns(
        '.git', '.venv', '.singa', '__pycache__', '*.egg-info', 'test-artifacts', 'bench-results'))
    marker = f'# changed by test_images {uuid.uuid4().hex}'
    with open(changed / 'singa' / '__init__.py', 'a', encoding='utf-8') as f:
        f.write(marker + '\n')
    runs_marker = ('import singa, torch\n'
                   f'print({marker!r} in open(singa.__file__).read(), torch.__version__)')
    foreign = f'singa-test-{uuid.uuid4().hex[:8]}:foreign'
    left_alone = _build_foreign(foreign, '1')
    _build_foreign(foreign, '2')                    # the first is dangling now
    try:
        assert _dangling_ours() - before == {left_alone}
        _build_images(changed, '--only', 'worker-torch')
        assert _image_id('singa-worker-torch:latest') != replaced
        assert {ref: _image_id(ref) for ref in torch_refs} == torch_ids
        assert _layers('singa-worker-torch:latest')[:len(torch_layers)] == torch_layers
        ran = docker('run', '--rm', '--network', 'none', 'singa-worker-torch', 'python', '-c', runs_marker)
        assert ran.stdout.split()[0] == 'True', ran.stdout
        assert _image_id(replaced) is None
        assert _dangling_ours() - before == {left_alone}
    finally:
        docker('rmi', foreign, left_alone, check=False)
        _build_images(REPO, '--only', 'worker-torch')
    ran = docker('run', '--rm', '--network', 'none', 'singa-worker-torch', 'python', '-c', runs_marker)
    assert ran.stdout.split()[0] == 'False', ran.stdout
    assert _dangling_ours() - before == set()


# -- the host's pip configuration in a fetch container -----------------------------------------

def _fetch_image() -> str:
    """The image build_images.sh fetches in: SINGA_BASE_IMAGE, the official slim image, or its own
    debootstrapped one."""
    for image in (os.environ.get('SINGA_BASE_IMAGE'), 'python:3.11-slim-bookworm', 'singa-os:bookworm'):
        if image and _image_id(image):
            return image
    raise AssertionError('build_images.sh left no base image to fetch in')


def test_a_constraint_file_in_the_host_pip_config_holds_in_the_fetch_container(singa_images, tmp_path):
    """Configured as this machine configures pip (``global.constraint`` in a config file, here a
    temporary one): pip in a fetch container, given what build_support.py pip-docker-args returns,
    must honour the constraint, so a download picks the version it pins."""
    constraints = tmp_path / 'constraints.txt'
    constraints.write_text('six==1.15.0\n')
    config = tmp_path / 'pip.conf'
    config.write_text(f'[global]\nconstraint = {constraints}\n')
    env = dict(os.environ, PIP_CONFIG_FILE=str(config))
    listed = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert f"global.constraint='{constraints}'" in listed
    args = subprocess.run([sys.executable, str(REPO / 'scripts' / 'build_support.py'), 'pip-docker-args',
                           str(tmp_path / 'fetch.env')], env=env, capture_output=True, text=True,
                          check=True).stdout.splitlines()
    out = docker('run', '--rm', '--network', 'host', *args, _fetch_image(), 'sh', '-ec', """
        python3 -m venv /tmp/venv
        /tmp/venv/bin/pip download --no-deps --dest /tmp/wheels six
        ls /tmp/wheels""", timeout=600).stdout
    assert out.split()[-1].startswith('six-1.15.0-'), out
