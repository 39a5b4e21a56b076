"""The ``singa`` command's behaviour that needs no running stack."""
import json

import pytest

from singa import cli
from singa.config import Settings
from singa.errors import ConfigError
from singa.local.stack import MARKER, LocalStack


def test_status_of_a_stack_that_never_ran_is_all_down(tmp_path, capsys):
    assert cli.main(['status', '--json', '--data-dir', str(tmp_path / 'none')]) == cli.EXIT_NOT_ALL_UP
    report = json.loads(capsys.readouterr().out)
    assert [c['name'] for c in report['components']] == ['postgres', 'redis', 'admin']
    assert not any(c['running'] for c in report['components']) and report['services'] == []


def test_down_of_a_stack_that_never_ran_is_fine(tmp_path, capsys):
    assert cli.main(['down', '--data-dir', str(tmp_path / 'none')]) == 0
    assert 'SingaAuto is down.' in capsys.readouterr().out


def test_purge_refuses_a_directory_singa_up_did_not_make(tmp_path, capsys):
    (tmp_path / 'precious.txt').write_text('keep me')
    with pytest.raises(ConfigError, match=MARKER):
        LocalStack(Settings.from_env({}, data_dir=str(tmp_path))).purge()
    assert cli.main(['down', '--purge', '--data-dir', str(tmp_path)]) == cli.EXIT_FAILED
    assert 'refusing to delete' in capsys.readouterr().err
    assert (tmp_path / 'precious.txt').exists()


def test_flags_override_the_environment(tmp_path):
    args = cli._parser().parse_args(['up', '--port', '4100', '--host', '0.0.0.0', '--data-dir', str(tmp_path)])
    settings = cli.stack._settings(args)
    assert (settings.admin_port, settings.admin_host, settings.data_dir) == (4100, '0.0.0.0', str(tmp_path))
    assert settings.storage_dir == str(tmp_path / 'storage')
