"""scripts/build_support.py hands the host's pip settings to the image build's fetch containers
without putting them on a command line: an index URL or a proxy may carry a password."""
import os
import stat
import subprocess
import sys
from pathlib import Path

BUILD_SUPPORT = Path(__file__).resolve().parents[2] / 'scripts' / 'build_support.py'


def test_pip_settings_go_in_a_private_env_file_and_the_files_they_name_are_mounted(tmp_path):
    constraints = tmp_path / 'constraints.txt'
    constraints.write_text('six==1.15.0\n')
    config = tmp_path / 'pip.conf'
    config.write_text(f'[global]\nconstraint = {constraints}\n'
                      'index-url = https://builder:index-s3cret@pypi.example.invalid/simple\n')
    env_file = tmp_path / 'fetch.env'
    env = dict(os.environ, PIP_CONFIG_FILE=str(config), HTTPS_PROXY='http://builder:proxy-s3cret@proxy.invalid:3128')
    args = subprocess.run([sys.executable, str(BUILD_SUPPORT), 'pip-docker-args', str(env_file)], env=env,
                          capture_output=True, text=True, check=True).stdout.splitlines()

    assert args[:2] == ['--env-file', str(env_file)]
    mount = args.index(f'{constraints}:{constraints}:ro')      # the constraint file, read-only, same path
    assert args[mount - 1] == '-v'
    assert not any('s3cret' in arg for arg in args)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    variables = dict(line.split('=', 1) for line in env_file.read_text().splitlines())
    assert variables['PIP_CONSTRAINT'] == str(constraints)
    assert variables['PIP_INDEX_URL'] == 'https://builder:index-s3cret@pypi.example.invalid/simple'
    assert variables['HTTPS_PROXY'] == 'http://builder:proxy-s3cret@proxy.invalid:3128'
    assert 'PIP_CONFIG_FILE' not in variables     # where the settings came from is not one of them


def test_the_admin_service_gets_the_same_sources_as_mounts(tmp_path):
    constraints = tmp_path / 'constraints.txt'
    constraints.write_text('six==1.15.0\n')
    config = tmp_path / 'pip.conf'
    config.write_text(f'[global]\nconstraint = {constraints}\n')
    env_file = tmp_path / 'pip.env'
    args = subprocess.run([sys.executable, str(BUILD_SUPPORT), 'pip-service-args', str(env_file)],
                          env=dict(os.environ, PIP_CONFIG_FILE=str(config)), capture_output=True, text=True,
                          check=True).stdout.splitlines()
    assert args[:2] == ['--env-file', str(env_file)]
    mount = args.index(f'type=bind,source={constraints},target={constraints},readonly')
    assert args[mount - 1] == '--mount' and stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f'PIP_CONSTRAINT={constraints}' in env_file.read_text().splitlines()
