"""The images that scripts/build_images.sh builds: they exist, every Python role imports what it
needs as the non-root user, and the PostgreSQL and Redis images start, take a password login,
refuse a wrong one, and keep their data on a volume when the container is replaced."""
import time

import psycopg2
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from docker_cli import docker

pytestmark = pytest.mark.swarm

ROLES = ('base', 'admin', 'worker', 'worker-torch', 'predictor', 'postgres', 'redis')

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
