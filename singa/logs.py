"""How every SingaAuto process logs: plain text, or one JSON object a line (``SINGA_LOG_FORMAT=json``).

A JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the process's
``role`` and, when set, ``service_id``, ``job_id``, ``sub_job_id`` and ``trial_id`` (so a log
collector can group a job's lines across services), ``exception`` with the traceback when there is
one, and the fields a caller passed as ``extra={...}``.

``configure_logging`` sets up the root logger of the process and re-formats gunicorn's own loggers
(its error and access logs) when they exist. With ``SINGA_LOG_FILE`` (which the container manager
sets where it cannot capture a process's output itself: Swarm) every line also goes to that file,
on the shared storage, so that the logs outlive the containers. ``GunicornLogger`` does the same for a gunicorn master
(``--logger-class singa.logs.GunicornLogger``), so that its start-up lines are JSON too.
"""
import datetime
import functools
import json
import logging
import os
import sys
from typing import Optional

TEXT_FORMAT = '%(asctime)s %(levelname)s {role} %(name)s: %(message)s'
GUNICORN_LOGGERS = ('gunicorn.error', 'gunicorn.access')
_CONTEXT_FIELDS = ('service_id', 'job_id', 'sub_job_id', 'trial_id')
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(vars(logging.LogRecord('', 0, '', 0, '', (), None))) | {'message', 'asctime', 'taskName'}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the process's context fields."""

    def __init__(self, role: str = '', context: Optional[dict] = None):
        super().__init__()
        self.context = {k: v for k, v in (context or {}).items() if v}
        if role:
            self.context['role'] = role

    def format(self, record: logging.LogRecord) -> str:
        line = {'time': datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(),
                'level': record.levelname, 'logger': record.name, 'message': record.getMessage()}
        line.update(self.context)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith('_'):
                line[key] = value
        if record.exc_info:
            line['exception'] = self.formatException(record.exc_info)
        elif record.stack_info:
            line['stack'] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(role: str, log_format: str = 'text', settings=None) -> logging.Formatter:
    if log_format == 'json':
        context = {name: getattr(settings, name, '') for name in _CONTEXT_FIELDS} if settings is not None else {}
        return JsonFormatter(role, context)
    return logging.Formatter(TEXT_FORMAT.format(role=role))


def configure_logging(role: str, settings=None, level: int = logging.INFO) -> None:
    """Log to stderr in the format of ``settings.log_format`` (text without settings), and to
    ``settings.log_file`` too when it is set (the shared storage's log file the container manager
    gave the process); an uncaught exception is logged before the process dies."""
    chosen = formatter(role, getattr(settings, 'log_format', 'text'), settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(chosen)
    file_handler = log_file_handler(getattr(settings, 'log_file', ''), chosen)
    logging.basicConfig(level=level, handlers=[handler, file_handler] if file_handler else [handler], force=True)
    for name in GUNICORN_LOGGERS:
        add_log_file(logging.getLogger(name), file_handler)
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(chosen)
    sys.excepthook = _log_uncaught


def log_file_handler(path: str, chosen: logging.Formatter) -> Optional[logging.Handler]:
    """A handler appending to ``path`` (None without a path, or when it cannot be opened: the
    process then logs to stderr alone and says so there)."""
    if not path:
        return None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        handler = logging.FileHandler(path, encoding='utf-8')
    except OSError as e:
        print(f'cannot write the log file {path}: {e}', file=sys.stderr, flush=True)
        return None
    handler.setFormatter(chosen)
    handler.singa_log_file = True
    return handler


def add_log_file(logger: logging.Logger, handler: Optional[logging.Handler]) -> None:
    """Make ``handler`` the one log file handler of ``logger`` (a logger that does not propagate,
    such as gunicorn's), replacing one added before."""
    for existing in [h for h in logger.handlers if getattr(h, 'singa_log_file', False)]:
        logger.removeHandler(existing)
        existing.close()
    if handler is not None:
        logger.addHandler(handler)


def _log_uncaught(kind, value, traceback) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, traceback)
        return
    logging.getLogger('singa').critical('uncaught exception', exc_info=(kind, value, traceback))


@functools.lru_cache(maxsize=None)
def _gunicorn_logger_class():
    from gunicorn.glogging import Logger

    class GunicornLogger(Logger):
        """gunicorn's logger, in JSON when ``SINGA_LOG_FORMAT=json`` (its master's lines too)."""

        def setup(self, cfg):
            super().setup(cfg)
            from singa.config import Settings
            settings = Settings.from_env()
            chosen = formatter(cfg.proc_name or 'gunicorn', settings.log_format, settings)
            if settings.log_format == 'json':
                for log in (self.error_log, self.access_log):
                    for handler in log.handlers:
                        handler.setFormatter(chosen)
            add_log_file(self.error_log, log_file_handler(settings.log_file, chosen))

    return GunicornLogger


def __getattr__(name: str):
    # Built on first use, so that importing this module does not import gunicorn.
    if name == 'GunicornLogger':
        return _gunicorn_logger_class()
    raise AttributeError(name)
