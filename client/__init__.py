"""The SingaAuto client: ``from singa.client import Client``."""
from singa.client.client import Client

__all__ = ['Client']
