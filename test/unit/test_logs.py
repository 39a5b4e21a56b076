"""SINGA_LOG_FORMAT: one JSON object a line with the process's context, or plain text."""
import json
import logging
import sys

import pytest

from singa.config import Settings
from singa.errors import ConfigError
from singa.logs import configure_logging


@pytest.fixture
def root_logging():
    """Put the root logger and the exception hook back as they were (configure_logging replaces them)."""
    root = logging.getLogger()
    handlers, level, hook = root.handlers[:], root.level, sys.excepthook
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook = hook


def test_json_lines_carry_the_context_extras_and_tracebacks(root_logging, capsys):
    settings = Settings.from_env({}, log_format='json', service_id='svc-1', job_id='job-9', trial_id='')
    configure_logging('advisor', settings)
    log = logging.getLogger('singa.test')
    log.info('trial %s ended', 3, extra={'score': 0.5})
    try:
        raise ValueError('bad knob')
    except ValueError:
        log.exception('failed')
    first, second = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert first['message'] == 'trial 3 ended' and first['level'] == 'INFO' and first['logger'] == 'singa.test'
    assert first['role'] == 'advisor' and first['service_id'] == 'svc-1' and first['job_id'] == 'job-9'
    assert first['score'] == 0.5 and 'trial_id' not in first and first['time'].endswith('+00:00')
    assert second['level'] == 'ERROR' and 'ValueError: bad knob' in second['exception']


def test_text_is_the_default(root_logging, capsys):
    configure_logging('train', Settings.from_env({}))
    logging.getLogger('singa.test').warning('careful')
    line = capsys.readouterr().err.strip()
    assert line.endswith('WARNING train singa.test: careful')


def test_an_unknown_format_is_refused_at_start_up():
    with pytest.raises(ConfigError, match='SINGA_LOG_FORMAT'):
        Settings.from_env({'SINGA_LOG_FORMAT': 'xml', 'SINGA_SERVICE_ID': 's'}).require('train')


def test_a_log_file_gets_every_line_and_an_uncaught_exception(root_logging, tmp_path, capsys):
    path = tmp_path / 'train-1.log'
    configure_logging('train', Settings.from_env({}, log_file=str(path)))
    logging.getLogger('singa.test').info('started')
    try:
        raise RuntimeError('lost')
    except RuntimeError as e:
        sys.excepthook(type(e), e, e.__traceback__)
    text = path.read_text()
    assert 'INFO train singa.test: started' in text
    assert 'CRITICAL train singa: uncaught exception' in text and 'RuntimeError: lost' in text
    assert 'started' in capsys.readouterr().err                  # stderr still gets them


def test_a_log_file_that_cannot_be_opened_leaves_stderr_and_says_why(root_logging, tmp_path, capsys):
    (tmp_path / 'file').write_text('')
    configure_logging('train', Settings.from_env({}, log_file=str(tmp_path / 'file' / 'x.log')))
    logging.getLogger('singa.test').warning('still here')
    err = capsys.readouterr().err
    assert 'cannot write the log file' in err and 'still here' in err
