"""The SingaAuto client: ``from singa.client import Client`` (``RetryPolicy`` tunes its retries)."""
from singa.client.client import Client
from singa.client.retry import RetryPolicy

__all__ = ['Client', 'RetryPolicy']
