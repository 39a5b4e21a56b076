"""The ``users`` table and the tokens revoked one by one (``revoked_tokens``). Emails are stored
lower-cased; callers pass them already normalised."""
import uuid
from typing import Optional

from singa.meta_store.records import UserRecord, from_row, from_rows


def insert_user(cur, email: str, password_hash: str, user_type: str) -> UserRecord:
    """Insert a user; a taken email raises ``ConflictError`` (from the unique constraint)."""
    cur.execute('INSERT INTO users (id, email, password_hash, user_type) VALUES (%s, %s, %s, %s) '
                'RETURNING *', (uuid.uuid4(), email, password_hash, user_type))
    return from_row(UserRecord, cur.fetchone())


def insert_user_if_absent(cur, email: str, password_hash: str, user_type: str) -> Optional[UserRecord]:
    """Insert a user unless the email is taken; return the new record, or None if it existed.

    Safe when several processes run it at once: the unique index decides, nobody fails.
    """
    cur.execute('INSERT INTO users (id, email, password_hash, user_type) VALUES (%s, %s, %s, %s) '
                'ON CONFLICT (email) DO NOTHING RETURNING *',
                (uuid.uuid4(), email, password_hash, user_type))
    return from_row(UserRecord, cur.fetchone())


def get_user(cur, user_id: uuid.UUID) -> Optional[UserRecord]:
    cur.execute('SELECT * FROM users WHERE id = %s', (user_id,))
    return from_row(UserRecord, cur.fetchone())


def get_user_by_email(cur, email: str, *, for_update: bool = False) -> Optional[UserRecord]:
    cur.execute('SELECT * FROM users WHERE email = %s' + (' FOR UPDATE' if for_update else ''), (email,))
    return from_row(UserRecord, cur.fetchone())


def list_users(cur) -> list[UserRecord]:
    cur.execute('SELECT * FROM users ORDER BY created_at, email')
    return from_rows(UserRecord, cur.fetchall())


def ban_user(cur, user_id: uuid.UUID) -> UserRecord:
    """Mark the user banned (keeping the first ban time) and revoke every token issued so far."""
    cur.execute('UPDATE users SET banned_at = COALESCE(banned_at, now()), token_epoch = token_epoch + 1 '
                'WHERE id = %s RETURNING *', (user_id,))
    return from_row(UserRecord, cur.fetchone())


def unban_user(cur, user_id: uuid.UUID) -> UserRecord:
    """Lift a ban. The tokens the ban revoked stay revoked: the user logs in again."""
    cur.execute('UPDATE users SET banned_at = NULL WHERE id = %s RETURNING *', (user_id,))
    return from_row(UserRecord, cur.fetchone())


def set_password_hash(cur, user_id: uuid.UUID, password_hash: str, *, revoke_tokens: bool) -> UserRecord:
    """Store a new password hash; with ``revoke_tokens`` every token issued so far stops working."""
    cur.execute('UPDATE users SET password_hash = %s, token_epoch = token_epoch + %s WHERE id = %s RETURNING *',
                (password_hash, 1 if revoke_tokens else 0, user_id))
    return from_row(UserRecord, cur.fetchone())


def revoke_all_tokens(cur, user_id: uuid.UUID) -> UserRecord:
    """Bump the token epoch: every token issued to the user so far stops working."""
    cur.execute('UPDATE users SET token_epoch = token_epoch + 1 WHERE id = %s RETURNING *', (user_id,))
    return from_row(UserRecord, cur.fetchone())


def revoke_token(cur, token_id: uuid.UUID, user_id: uuid.UUID, expires_at) -> None:
    """Revoke one token (its ``jti``) until it would have expired anyway; revoking twice is harmless."""
    cur.execute('INSERT INTO revoked_tokens (token_id, user_id, expires_at) VALUES (%s, %s, %s)'
                ' ON CONFLICT (token_id) DO NOTHING', (token_id, user_id, expires_at))


def is_token_revoked(cur, token_id: uuid.UUID) -> bool:
    cur.execute('SELECT 1 FROM revoked_tokens WHERE token_id = %s', (token_id,))
    return cur.fetchone() is not None


def purge_revoked_tokens(cur) -> int:
    """Forget revoked tokens that have expired by now (they are refused as expired anyway)."""
    cur.execute('DELETE FROM revoked_tokens WHERE expires_at < now()')
    return cur.rowcount
