"""The ``users`` table. Emails are stored lower-cased; callers pass them already normalised."""
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
