"""Passwords and bearer tokens (standard library only; no Flask here).

Passwords are hashed with scrypt, a fresh salt per user, and the parameters kept in the stored
string (``scrypt$n$r$p$salt$hash``), so they can be raised later without breaking old hashes.

Tokens are ``<payload>.<signature>``: the payload is base64url JSON
``{"sub": user id, "typ": user type, "ep": token epoch, "jti": token id, "iat": issued, "exp": expires}``
and the signature is HMAC-SHA256 of it under ``settings.token_secret``. A token is accepted only
while it has not expired, its epoch equals the user's current ``token_epoch`` and its id is not in
``revoked_tokens``. So there are two ways to revoke: one token (a logout: its id is recorded until
it would have expired) or every token of a user (a logout everywhere, a ban, a password reset by an
admin: the epoch is bumped). ``authenticate`` re-reads the user's row on every request, so either
takes effect at once. The Flask decorator built on it is ``singa.admin.routes.guards.require_user``.
"""
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from singa.constants import UserType
from singa.errors import ForbiddenError, InvalidTokenError, UnauthenticatedError
from singa.meta_store import users as users_repo
from singa.meta_store.db import MetaStore
from singa.meta_store.records import UserRecord

# scrypt cost: N=2**14, r=8, p=1 (16 MiB, about 30 ms here), Percival's interactive-login figure.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 1 << 14, 8, 1
_SALT_BYTES, _HASH_BYTES = 16, 32
_MAX_MEM = 128 * 1024 * 1024
# A token: base64url payload, a dot, base64url signature (ASCII only; anything else is malformed).
_TOKEN = re.compile(r'[A-Za-z0-9_-]{1,4096}\.[A-Za-z0-9_-]{1,128}')


def hash_password(password: str) -> str:
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f'scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}'


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches ``stored``; a malformed stored string never matches."""
    try:
        scheme, n, r, p, salt, digest = stored.split('$')
        if scheme != 'scrypt':
            return False
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode('utf-8'), salt=salt, n=n, r=r, p=p, dklen=_HASH_BYTES,
                          maxmem=_MAX_MEM)


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    user_type: str
    epoch: int
    expires_at: datetime
    token_id: uuid.UUID


class TokenSigner:
    """Issues and verifies bearer tokens for one secret and lifetime."""

    def __init__(self, secret: str, ttl_seconds: int):
        if not secret:
            raise ValueError('a token secret is required')
        self._key = hashlib.sha256(b'singa-admin-token\0' + secret.encode('utf-8')).digest()
        self._ttl = int(ttl_seconds)

    def issue(self, user_id: uuid.UUID, user_type: str, epoch: int, now: float | None = None) -> tuple[str, datetime]:
        """Return ``(token, expires_at)``. ``now`` (epoch seconds) is for tests."""
        issued = int(time.time() if now is None else now)
        claims = {'sub': str(user_id), 'typ': str(user_type), 'ep': int(epoch), 'jti': str(uuid.uuid4()),
                  'iat': issued, 'exp': issued + self._ttl}
        payload = _b64(json.dumps(claims, separators=(',', ':'), sort_keys=True).encode('utf-8'))
        return f'{payload}.{self._sign(payload)}', _utc(claims['exp'])

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        """Check the form, signature and expiry; raise ``InvalidTokenError`` for anything wrong
        (whatever the string: it comes from anyone, before any login)."""
        if not _TOKEN.fullmatch(token):
            raise InvalidTokenError('the token is malformed')
        payload, _, signature = token.partition('.')
        if not hmac.compare_digest(self._sign(payload).encode('ascii'), signature.encode('ascii')):
            raise InvalidTokenError('the token is malformed or its signature is wrong')
        try:
            claims = json.loads(_unb64(payload))
            user_id = uuid.UUID(claims['sub'])
            expires = int(claims['exp'])
            parsed = TokenClaims(user_id, str(claims['typ']), int(claims['ep']), _utc(expires),
                                 uuid.UUID(claims['jti']))
        except (ValueError, KeyError, TypeError, OverflowError, OSError, binascii.Error):
            raise InvalidTokenError('the token is malformed') from None
        if (time.time() if now is None else now) >= expires:
            raise InvalidTokenError('the token has expired; log in again')
        return parsed

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode('ascii'), hashlib.sha256).digest())


def authenticate(store: MetaStore, signer: TokenSigner, authorization: str | None,
                 allowed_types=()) -> tuple[UserRecord, TokenClaims]:
    """The user an ``Authorization: Bearer <token>`` header stands for, checked against their row now,
    and the token's claims.

    No header: ``UnauthenticatedError``. A malformed, forged, expired or revoked token, or a banned
    user: ``InvalidTokenError``. A user type outside ``allowed_types`` (empty: any type; SUPERADMIN
    is always allowed): ``ForbiddenError``.
    """
    if not authorization:
        raise UnauthenticatedError('log in first: send the header "Authorization: Bearer <token>"')
    scheme, _, token = authorization.strip().partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise InvalidTokenError('the Authorization header must read "Bearer <token>"')
    claims = signer.verify(token.strip())
    with store.transaction() as cur:
        user = users_repo.get_user(cur, claims.user_id)
        revoked = user is not None and users_repo.is_token_revoked(cur, claims.token_id)
    if user is None or user.token_epoch != claims.epoch or revoked:
        raise InvalidTokenError('the token has been revoked; log in again')
    if user.is_banned:
        raise InvalidTokenError('the user is banned')
    allowed = {str(t) for t in allowed_types}
    if allowed and user.user_type != UserType.SUPERADMIN and user.user_type not in allowed:
        raise ForbiddenError(f'a {user.user_type} may not do this; allowed: '
                             f'{", ".join(sorted(allowed | {UserType.SUPERADMIN.value}))}')
    return user, claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def _utc(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
