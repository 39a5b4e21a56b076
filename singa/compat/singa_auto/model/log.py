"""SingaAuto's model logger: ``utils.logger`` is the platform's ``singa.model.logger`` itself (so
what a template logs reaches its trial), and ``LoggerUtils`` is its class."""
from singa.model.log import LogType, ModelLogger as LoggerUtils, logger

__all__ = ['LoggerUtils', 'LogType', 'logger']
