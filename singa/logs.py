"""How every SingaAuto process logs: plain text, or one JSON object a line (``SINGA_LOG_FORMAT=json``).

A JSON line has ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, the process's
``role`` and, when set, ``service_id``, ``job_id``, ``sub_job_id`` and ``trial_id`` (so a log
collector can group a job's lines across services), ``exception`` with the traceback when there is
one, and the fields a caller passed as ``extra={...}``.

``configure_logging`` sets up the root logger of the process and re-formats gunicorn's own loggers
(its error and access logs) when they exist. ``GunicornLogger`` does the same for a gunicorn master
(``--logger-class singa.logs.GunicornLogger``), so that its start-up lines are JSON too.
"""
import datetime
import functools
import json
import logging
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
    """Log to stderr in the format of ``settings.log_format`` (text without settings)."""
    chosen = formatter(role, getattr(settings, 'log_format', 'text'), settings)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(chosen)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in GUNICORN_LOGGERS:
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(chosen)


@functools.lru_cache(maxsize=None)
def _gunicorn_logger_class():
    from gunicorn.glogging import Logger

    class GunicornLogger(Logger):
        """gunicorn's logger, in JSON when ``SINGA_LOG_FORMAT=json`` (its master's lines too)."""

        def setup(self, cfg):
            super().setup(cfg)
            from singa.config import Settings
            settings = Settings.from_env()
            if settings.log_format == 'json':
                chosen = formatter(cfg.proc_name or 'gunicorn', 'json', settings)
                for log in (self.error_log, self.access_log):
                    for handler in log.handlers:
                        handler.setFormatter(chosen)

    return GunicornLogger


def __getattr__(name: str):
    # Built on first use, so that importing this module does not import gunicorn.
    if name == 'GunicornLogger':
        return _gunicorn_logger_class()
    raise AttributeError(name)
