"""SingaAuto's client: ``from singa_auto.client import Client``."""
from .client import Client, SingaAutoConnectionError

__all__ = ['Client', 'SingaAutoConnectionError']
