"""Password hashes and bearer tokens of the admin (no servers needed)."""
import time
import uuid

import pytest

from singa.admin.auth import TokenSigner, hash_password, verify_password
from singa.errors import InvalidTokenError

SECRET = 'unit-test-secret-0123456789'


def test_password_hashes_are_salted_scrypt_with_their_parameters():
    first, second = hash_password('correct horse'), hash_password('correct horse')
    assert first != second
    scheme, n, r, p, _, _ = first.split('$')
    assert (scheme, n, r, p) == ('scrypt', str(1 << 14), '8', '1')
    assert verify_password('correct horse', first) and verify_password('correct horse', second)
    assert not verify_password('correct horse!', first)


@pytest.mark.parametrize('stored', ['', 'plain', 'bcrypt$1$2$3$4$5', 'scrypt$x$8$1$AA$AA', 'scrypt$16384$8$1$!!$AA'])
def test_malformed_stored_hashes_never_match(stored):
    assert not verify_password('anything', stored)


def test_a_token_carries_the_user_and_expires():
    signer = TokenSigner(SECRET, ttl_seconds=60)
    user_id = uuid.uuid4()
    token, expires_at = signer.issue(user_id, 'ADMIN', epoch=3)
    claims = signer.verify(token)
    assert (claims.user_id, claims.user_type, claims.epoch, claims.expires_at) == (user_id, 'ADMIN', 3, expires_at)
    # Each token has an id of its own, by which a logout revokes just that one.
    assert claims.token_id != signer.verify(signer.issue(user_id, 'ADMIN', epoch=3)[0]).token_id
    with pytest.raises(InvalidTokenError, match='expired'):
        signer.verify(token, now=time.time() + 61)


@pytest.mark.parametrize('mangle', [
    lambda t: t + 'x',
    lambda t: t.replace('.', '.x', 1),
    lambda t: t.split('.')[0],
    lambda t: '.' + t.split('.')[1],
    lambda t: 'é' + t,
    lambda t: t[:-1] + 'é',                 # a non-ASCII signature (once a 500: compare_digest raised)
    lambda t: t[:-1] + '\x00',
    lambda t: t + '\n',
    lambda t: t.split('.')[0] + '.' + 'A' * 10_000,
    lambda t: '',
])
def test_tampered_tokens_are_refused(mangle):
    signer = TokenSigner(SECRET, 60)
    token, _ = signer.issue(uuid.uuid4(), 'ADMIN', 0)
    with pytest.raises(InvalidTokenError):
        signer.verify(mangle(token))


def test_a_token_signed_with_another_secret_is_refused():
    token, _ = TokenSigner('another-secret-0123456789', 60).issue(uuid.uuid4(), 'SUPERADMIN', 0)
    with pytest.raises(InvalidTokenError, match='signature'):
        TokenSigner(SECRET, 60).verify(token)
