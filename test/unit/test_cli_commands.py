"""The ``singa`` command's parts that need no running admin: help and --json on every command, the
credentials file, which admin and token are used, exit codes, the progress display, reading queries.
The commands themselves run against a real stack in test/e2e/test_cli_e2e.py."""
import argparse
import io
import json
import os
import types
from datetime import datetime, timedelta, timezone

import pytest

from singa import cli
from singa.cli import exits, session
from singa.cli.exits import UsageError
from singa.cli.predict import read_queries
from singa.cli.progress import JobProgress, ProgressDisplay
from singa.errors import (ConflictError, InvalidRequestError, NotFoundError, ServiceUnavailableError, SingaError,
                          StoreError, UnauthenticatedError)
from test_admin_import_rules import imports_of

CLI_DIR = os.path.dirname(cli.__file__)
NOW = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def leaf_commands(parser, path=()):
    """(path, parser) of every command that runs something."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        yield path, parser
        return
    for name, sub in actions[0].choices.items():
        yield from leaf_commands(sub, path + (name,))


LEAVES = list(leaf_commands(cli.build_parser()))


def test_the_groups_the_issue_names_are_there():
    paths = {' '.join(p) for p, _ in LEAVES}
    for expected in ('up', 'down', 'status', 'login', 'logout', 'whoami', 'users create', 'datasets upload',
                     'models upload', 'train create', 'train wait', 'train stop', 'train list', 'train show',
                     'trials list', 'trials logs', 'inference create', 'inference wait', 'inference show',
                     'inference stop', 'keys create', 'keys list', 'keys revoke', 'predict'):
        assert expected in paths


@pytest.mark.parametrize('path', [p for p, _ in LEAVES], ids=' '.join)
def test_every_command_has_help_and_json(path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([*path, '--help'])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f'usage: singa {" ".join(path)}') and '--json' in text
    parser = dict(LEAVES)[path]
    assert parser.description and len(parser.description) > 15


def test_a_password_is_never_an_argument():
    for path, parser in LEAVES:
        options = [o for a in parser._actions for o in a.option_strings]
        assert not [o for o in options if 'password' in o and o != '--password-stdin'], path


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(['train', 'create'])
    assert done.value.code == exits.USAGE
    with pytest.raises(SystemExit) as done:
        cli.main(['datasets', 'upload', 'name', '/no/such/file.csv', '--task', 'TABULAR_CLASSIFICATION'])
    assert done.value.code == exits.USAGE and 'cannot read /no/such/file.csv' in capsys.readouterr().err


# -- credentials ---------------------------------------------------------------------------------

def test_credentials_are_private_and_follow_xdg(tmp_path):
    env = {'XDG_CONFIG_HOME': str(tmp_path / 'xdg'), 'HOME': str(tmp_path / 'home')}
    path = session.save_credentials(env, {'admin_host': 'h', 'admin_port': 1, 'token': 't'})
    assert path == str(tmp_path / 'xdg' / 'singa' / 'credentials.json')
    assert os.stat(path).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert session.load_credentials(env)['token'] == 't'
    assert os.listdir(os.path.dirname(path)) == ['credentials.json']         # no partial file left behind
    os.chmod(path, 0o640)
    with pytest.raises(UsageError, match='may be read by others'):
        session.load_credentials(env)
    assert session.forget_credentials(env) and not session.forget_credentials(env)
    home = {'HOME': str(tmp_path / 'home')}
    assert session.credentials_path(home) == str(tmp_path / 'home' / '.config' / 'singa' / 'credentials.json')


def test_a_saved_token_goes_only_to_the_admin_that_issued_it(tmp_path):
    env = {'XDG_CONFIG_HOME': str(tmp_path)}
    session.save_credentials(env, {'admin_host': 'admin.example', 'admin_port': 4000, 'token': 'saved'})
    assert session.Session.resolve(env) == session.Session('admin.example', 4000, 'saved',
                                                           session.credentials_path(env))
    assert session.Session.resolve(dict(env, SINGA_ADMIN_PORT='4001')).token is None
    assert session.Session.resolve(dict(env, SINGA_ADMIN_HOST='other.example')).token is None
    from_env = session.Session.resolve(dict(env, SINGA_TOKEN='env-token', SINGA_ADMIN_HOST='0.0.0.0'))
    assert (from_env.host, from_env.port, from_env.token, from_env.token_source) == \
        ('localhost', 4000, 'env-token', 'SINGA_TOKEN')
    assert session.Session.saved(dict(env, SINGA_ADMIN_PORT='1')).port == 4000    # logout: the saved admin
    with pytest.raises(UnauthenticatedError, match='singa login'):
        session.Session.resolve({'XDG_CONFIG_HOME': str(tmp_path / 'empty')}).client()
    with pytest.raises(UsageError, match='SINGA_ADMIN_PORT'):
        session.Session.resolve(dict(env, SINGA_ADMIN_PORT='x'))


def run(argv, env, stdin=''):
    """``singa argv`` in this process with ``env``; (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, environ=env, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_not_logged_in_is_exit_6_with_a_json_error(tmp_path):
    code, out, err = run(['datasets', 'list', '--json'], {'XDG_CONFIG_HOME': str(tmp_path)})
    assert (code, out) == (exits.UNAUTHENTICATED, '')
    assert json.loads(err) == {'error': {'type': 'UnauthenticatedError', 'status_code': None,
                                         'message': 'not logged in to http://localhost:3000: run `singa login` '
                                                    '(or set SINGA_TOKEN)'},
                               'exit_code': exits.UNAUTHENTICATED}


def test_login_asks_no_password_without_a_terminal(tmp_path):
    code, _, err = run(['login', 'a@example.com'], {'XDG_CONFIG_HOME': str(tmp_path)}, stdin='secret\n')
    assert code == exits.USAGE and '--password-stdin' in err
    code, _, err = run(['login', 'a@example.com', '--password-stdin'], {'XDG_CONFIG_HOME': str(tmp_path)})
    assert code == exits.USAGE and 'empty' in err


def test_exit_codes_of_errors():
    def answered(cls, status):
        error = cls('x')
        error.status_code = status
        return error
    assert exits.exit_code_of(answered(NotFoundError, 404)) == exits.NOT_FOUND
    assert exits.exit_code_of(NotFoundError('no dataset named x')) == exits.NOT_FOUND
    assert exits.exit_code_of(answered(UnauthenticatedError, 401)) == exits.UNAUTHENTICATED
    for cls, status in ((InvalidRequestError, 400), (ConflictError, 409), (SingaError, 429)):
        assert exits.exit_code_of(answered(cls, status)) == exits.REFUSED
    assert exits.exit_code_of(ServiceUnavailableError('cannot reach the admin')) == exits.UNAVAILABLE
    assert exits.exit_code_of(answered(StoreError, 500)) == exits.UNAVAILABLE
    assert exits.exit_code_of(SingaError('something else')) == exits.FAILED
    codes = [v for k, v in vars(exits).items() if k.isupper() and isinstance(v, int)]
    assert len(codes) == len(set(codes))
    assert all(f'  {c} ' in exits.DESCRIPTION for c in codes)


# -- the progress display ------------------------------------------------------------------------

def job(status='RUNNING', trials=None, best=None, stopped=None, count=5):
    created = NOW - timedelta(seconds=75)
    return {'app': 'iris', 'app_version': 2, 'status': status, 'best_score': best,
            'budget': {'MODEL_TRIAL_COUNT': count, 'TIME_HOURS': 0.1},
            'created_at': created.isoformat(), 'deadline_at': (created + timedelta(hours=0.1)).isoformat(),
            'stopped_at': stopped.isoformat() if stopped else None,
            'sub_train_jobs': [{'trials': t} for t in (trials or [{}, {}])]}


def test_progress_counts_trials_of_every_template_against_the_budget():
    p = JobProgress.of(job(trials=[{'COMPLETED': 2, 'RUNNING': 1}, {'ERRORED': 1, 'PENDING': 1}], best=0.9),
                       NOW)
    assert (p.done, p.running, p.total, p.elapsed, p.remaining) == (3, 2, 10, 75, 360 - 75)
    assert p.state() == 'iris v2 RUNNING: 3/10 trials done, 2 running, best score 0.9000'
    assert p.line() == 'iris v2 RUNNING  trials 3/10 (2 running)  best 0.9000  1:15 (4:45 left)'
    ended = JobProgress.of(job('STOPPED', [{'COMPLETED': 4}], 1.0, NOW - timedelta(seconds=5), count=-1), NOW)
    assert (ended.total, ended.elapsed, ended.remaining) == (None, 70, None)
    assert ended.line() == 'iris v2 STOPPED  trials 4 (0 running)  best 1.0000  1:10'


def test_a_pipe_gets_a_line_per_change_and_a_terminal_one_line_redrawn():
    plain = io.StringIO()
    display = ProgressDisplay(plain, live=False, now=lambda: NOW)
    for update in (job(), job(), job(trials=[{'RUNNING': 1}]), job('STOPPED', [{'COMPLETED': 1}], 0.5, NOW)):
        display.update(update)
    display.close()
    assert plain.getvalue().splitlines() == [
        '[1:15] iris v2 RUNNING: 0/10 trials done, 0 running, best score -',
        '[1:15] iris v2 RUNNING: 0/5 trials done, 1 running, best score -',
        '[1:15] iris v2 STOPPED: 1/5 trials done, 0 running, best score 0.5000']
    live = io.StringIO()
    display = ProgressDisplay(live, live=True, now=lambda: NOW)
    display.update(job())
    display.update(job())
    display.close()
    assert live.getvalue().count('\r\x1b[K') == 2 and live.getvalue().endswith('(4:45 left)\n')


# -- queries -------------------------------------------------------------------------------------

def queries(text=None, query=None, file='-'):
    stdin = io.StringIO(text or '')
    return read_queries(types.SimpleNamespace(query=query, file=None if query else file), stdin)


def test_queries_as_a_list_the_predictors_body_or_one_query():
    assert queries('[{"a": 1}, [1, 2]]') == [{'a': 1}, [1, 2]]
    assert queries('{"queries": [{"a": 1}]}') == [{'a': 1}]
    assert queries('{"query": {"a": 1}}') == [{'a': 1}]
    assert queries('{"a": 1}') == [{'a': 1}]
    assert queries(query='[5.1, 3.5]') == [[5.1, 3.5]]
    for bad, message in (('{nope', 'not valid JSON'), ('[]', 'expected a list'), ('3', 'expected a list'),
                         (json.dumps([{}] * 1001), 'at most 1000')):
        with pytest.raises(UsageError, match=message):
            queries(bad)


# -- a thin layer --------------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(n for n in os.listdir(CLI_DIR) if n.endswith('.py')))
def test_the_cli_speaks_http_only_through_the_client(name):
    """No second HTTP implementation: the command's modules reach the admin only through singa.client;
    only the local stack's module reaches into the platform itself."""
    allowed = ('singa.cli', 'singa.client', 'singa.constants', 'singa.errors', 'singa.config')
    for imported in imports_of(os.path.join(CLI_DIR, name)):
        if imported.startswith('singa'):
            assert imported.startswith(allowed) or (name == 'stack.py' and imported == 'singa.local.stack'), imported
        else:
            assert imported.split('.')[0] in ('argparse', 'dataclasses', 'datetime', 'getpass', 'importlib', 'json',
                                              'os', 're', 'shutil', 'stat', 'sys', 'tempfile', 'textwrap', 'time',
                                              'typing'), imported
