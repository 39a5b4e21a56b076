"""Template inspection in a throwaway container (``DockerSandbox``): same answers as the process
sandbox, no network, nothing writable but /tmp, no secrets, limits enforced, nothing left behind."""
import io
import zipfile
from pathlib import Path

import pytest

from docker_cli import docker
from singa.config import Settings
from singa.container.docker_swarm import DockerSandbox
from singa.errors import InvalidModelError
from singa.model.inspect import check_model_template, make_check_sandbox

pytestmark = pytest.mark.swarm

# A real template (it imports scikit-learn and the SDK), checked as the admin checks uploads.
GOOD = (Path(__file__).resolve().parents[2] / 'examples' / 'models' / 'sk_logistic_regression.py').read_bytes()
CLASS = 'SkLogisticRegression'

# Fails the import (so the check) if anything it must not do works.
PROBE = b'''
import os, socket
problems = []
for path in ("template.py", "new-file", "/etc/new-file", "/opt/singa/venv/new-file"):
    try:
        open(path, "a").close()
        problems.append("wrote " + path)
    except OSError:
        pass
open("/tmp/scratch", "w").write("tmp is writable")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    problems.append("network")
except OSError:
    pass
if os.getuid() == 0:
    problems.append("root")
problems += [k for k in os.environ if k.startswith("SINGA_")]
if problems:
    raise RuntimeError("sandbox leaks: %s" % problems)
''' + GOOD


@pytest.fixture(scope='module')
def sandbox(singa_images):
    settings = Settings.from_env({}, worker_image=f'singa-worker:{singa_images}', stack_name='singa-sandbox-test')
    yield DockerSandbox(settings)
    left = docker('ps', '-a', '--quiet', '--filter', 'label=singa.swarm.stack=singa-sandbox-test').stdout.split()
    assert left == [], 'sandbox containers left behind'


def test_auto_picks_the_container_with_swarm():
    assert isinstance(make_check_sandbox(Settings.from_env({}, container_manager='swarm')), DockerSandbox)
    assert not isinstance(make_check_sandbox(Settings.from_env({}, container_manager='process')), DockerSandbox)


def test_good_template_and_zip(sandbox):
    names = [k['name'] for k in check_model_template(GOOD, CLASS, sandbox=sandbox)['knobs']]
    assert names and names == [k['name'] for k in check_model_template(GOOD, CLASS)['knobs']]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w') as z:
        z.writestr('pkg/helper.py', 'NAMES = ["x"]\n')
        z.writestr('pkg/model.py', 'import helper\n' + GOOD.decode())
    config = check_model_template(buf.getvalue(), CLASS, file_kind='zip', module_file='pkg/model.py', sandbox=sandbox)
    assert [k['name'] for k in config['knobs']] == names


def test_no_network_no_writes_no_secrets_no_root(sandbox, monkeypatch):
    monkeypatch.setenv('SINGA_TOKEN_SECRET', 'secret-of-the-admin')
    assert check_model_template(PROBE, CLASS, sandbox=sandbox)['knobs']


@pytest.mark.parametrize('source, kwargs, message', [
    (b'def f(:\n', {}, 'syntax error at line 1'),
    (b'import sklearn_nope\n', {}, 'ModuleNotFoundError'),
    (b'import time\ntime.sleep(60)\n' + GOOD, {'timeout': 3}, 'timed out after 3 s'),
    (b'x = bytearray(1500 << 20)\nx[::4096] = b"x" * len(x[::4096])\n' + GOOD, {'memory_mb': 512},
     'MemoryError|more than 512 MB'),
    (b'import os\nos.fork = None\n[os.spawnv(os.P_NOWAIT, "/bin/sleep", ["sleep", "30"]) for _ in range(400)]\n' + GOOD,
     {}, 'importing the model file failed'),
])
def test_bad_templates_and_limits(sandbox, source, kwargs, message):
    with pytest.raises(InvalidModelError, match=message):
        check_model_template(source, CLASS, sandbox=sandbox, **kwargs)
