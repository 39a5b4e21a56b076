"""Checking that a webhook request came from SingaAuto (for the receiver's side).

    from singa.client import verify_webhook_signature
    if not verify_webhook_signature(secret, request_body_bytes, request.headers['Singa-Signature']):
        return 400

The admin signs each request with the webhook's secret: ``Singa-Signature: t=<unix time>,v1=<hex>``,
where ``<hex>`` is HMAC-SHA256 of ``"<t>."`` followed by the raw body. Checking the time as well as
the HMAC stops a captured request from being replayed later.
"""
import hashlib
import hmac
import time
from typing import Optional

SIGNATURE_HEADER = 'Singa-Signature'
DEFAULT_TOLERANCE_SECONDS = 300


def verify_webhook_signature(secret: str, body: bytes, header: Optional[str],
                             tolerance: float = DEFAULT_TOLERANCE_SECONDS, now: Optional[float] = None) -> bool:
    """Whether ``header`` (the ``Singa-Signature`` value) signs ``body`` (the raw bytes received) with
    ``secret``, at a time within ``tolerance`` seconds of ``now`` (default: this machine's clock)."""
    if not header:
        return False
    parts = dict(item.split('=', 1) for item in header.split(',') if '=' in item)
    try:
        timestamp = int(parts.get('t', ''))
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f'{timestamp}.'.encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get('v1', ''))
