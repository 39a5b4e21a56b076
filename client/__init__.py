"""The SingaAuto client: ``from singa.client import Client`` (``RetryPolicy`` tunes its retries;
``verify_webhook_signature`` checks a webhook request on the receiving side)."""
from singa.client.client import Client
from singa.client.retry import RetryPolicy
from singa.client.webhooks import verify_webhook_signature

__all__ = ['Client', 'RetryPolicy', 'verify_webhook_signature']
