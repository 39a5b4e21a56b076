"""Users: log in, create, list, ban, and the superadmin bootstrap.

Rules (SingaAuto's, with its gaps closed): nobody creates a SUPERADMIN through the API; only a
SUPERADMIN creates or bans ADMINs; nobody bans a SUPERADMIN or themselves; a ban revokes every token
of the user at once (it bumps ``token_epoch``).
"""
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from singa.admin.auth import TokenSigner, hash_password, verify_password
from singa.config import Settings
from singa.constants import UserType
from singa.errors import (ConfigError, ConflictError, ForbiddenError, InvalidRequestError, NotFoundError,
                          UnauthenticatedError)
from singa.meta_store import events
from singa.meta_store import users as users_repo
from singa.meta_store.db import MetaStore
from singa.meta_store.records import UserRecord

log = logging.getLogger(__name__)

_EMAIL = re.compile(r'^[^@\s<>(),;:"\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
                    r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$')
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# Verified against when the email is unknown, so that a miss costs as long as a wrong password.
_DUMMY_HASH = hash_password('not-a-real-password')


@dataclass(frozen=True)
class Login:
    user: UserRecord
    token: str
    expires_at: datetime


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidRequestError(f'{email!r} is not a valid email address', field='email')
    return email


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f'the password must be at least {MIN_PASSWORD_LENGTH} characters long',
                                  field='password')
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequestError(f'the password must be at most {MAX_PASSWORD_LENGTH} characters long',
                                  field='password')


def login(store: MetaStore, signer: TokenSigner, email: str, password: str) -> Login:
    """Check the credentials and issue a token; wrong credentials or a ban is ``UnauthenticatedError``."""
    with store.transaction() as cur:
        user = users_repo.get_user_by_email(cur, email.strip().lower())
    if not verify_password(password, user.password_hash if user else _DUMMY_HASH) or user is None:
        raise UnauthenticatedError('wrong email or password')
    if user.is_banned:
        raise UnauthenticatedError('this user is banned')
    token, expires_at = signer.issue(user.id, user.user_type, user.token_epoch)
    return Login(user, token, expires_at)


def create_user(store: MetaStore, actor: UserRecord, email: str, password: str,
                user_type: UserType) -> UserRecord:
    if user_type == UserType.SUPERADMIN:
        raise ForbiddenError('a SUPERADMIN cannot be created through the API', field='user_type')
    if user_type == UserType.ADMIN and actor.user_type != UserType.SUPERADMIN:
        raise ForbiddenError('only a SUPERADMIN may create ADMINs', field='user_type')
    email = normalise_email(email)
    check_password_rules(password)
    password_hash = hash_password(password)
    try:
        with store.transaction() as cur:
            user = users_repo.insert_user(cur, email, password_hash, user_type.value)
            events.record_event(cur, events.USER_CREATED, subject_id=user.id,
                                data={'by': str(actor.id), 'user_type': user.user_type})
    except ConflictError:
        raise ConflictError(f'a user with email {email} already exists', resource='user',
                            field='email') from None
    return user


def list_users(store: MetaStore) -> list[UserRecord]:
    with store.transaction() as cur:
        return users_repo.list_users(cur)


def ban_user(store: MetaStore, actor: UserRecord, email: str) -> UserRecord:
    email = email.strip().lower()
    with store.transaction() as cur:
        user = users_repo.get_user_by_email(cur, email, for_update=True)
        if user is None:
            raise NotFoundError(f'no user with email {email}', resource='user')
        if user.id == actor.id:
            raise ForbiddenError('you cannot ban yourself', resource='user', id=user.id)
        if user.user_type == UserType.SUPERADMIN:
            raise ForbiddenError('a SUPERADMIN cannot be banned', resource='user', id=user.id)
        if user.user_type == UserType.ADMIN and actor.user_type != UserType.SUPERADMIN:
            raise ForbiddenError('only a SUPERADMIN may ban ADMINs', resource='user', id=user.id)
        banned = users_repo.ban_user(cur, user.id)
        events.record_event(cur, events.USER_BANNED, subject_id=user.id, data={'by': str(actor.id)})
    return banned


def seed_superadmin(store: MetaStore, settings: Settings) -> bool:
    """Create the superadmin of the settings unless that email exists; True if created now.

    Safe when several admin processes start at once (the insert does nothing on a taken email). An
    existing account is left as it is: changing SINGA_SUPERADMIN_PASSWORD later does not reset it.
    """
    try:
        email = normalise_email(settings.superadmin_email)
        check_password_rules(settings.superadmin_password)
    except InvalidRequestError as e:
        raise ConfigError(f'SINGA_SUPERADMIN_{e.field.upper()}: {e.message}') from None
    password_hash = hash_password(settings.superadmin_password)
    with store.transaction() as cur:
        user = users_repo.insert_user_if_absent(cur, email, password_hash, UserType.SUPERADMIN.value)
        if user is not None:
            events.record_event(cur, events.USER_CREATED, subject_id=user.id,
                                data={'by': 'configuration', 'user_type': user.user_type})
            log.info('created the superadmin %s', email)
            return True
        existing = users_repo.get_user_by_email(cur, email)
    if existing is not None and existing.user_type != UserType.SUPERADMIN:
        log.warning('SINGA_SUPERADMIN_EMAIL %s belongs to a %s, not a SUPERADMIN', email, existing.user_type)
    return False
