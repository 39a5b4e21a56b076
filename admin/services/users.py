"""Users: log in and out, create, list, ban and unban, passwords, and the superadmin bootstrap.

Rules (SingaAuto's, with its gaps closed): nobody creates a SUPERADMIN through the API; only a
SUPERADMIN creates, bans, unbans or resets the password of ADMINs; nobody does any of that to a
SUPERADMIN or to themselves. A ban revokes every token of the user at once (it bumps
``token_epoch``) and stops their inference jobs from answering (``InferenceJobService.
withhold_owner``); an unban lets them log in again and restores their jobs' prediction keys. Every
new password follows ``passwords.check_new_password``. Changing one's own password takes the old
one and keeps one's tokens (``logout(everywhere=True)`` ends the other sessions); an admin's reset
revokes the user's tokens and clears their failed logins. Logins are throttled per account and
per client address (``login_throttle``).
"""
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from singa.admin.auth import TokenClaims, TokenSigner, hash_password, verify_password
from singa.admin.services.login_throttle import LoginThrottle
from singa.admin.services.passwords import check_new_password
from singa.config import Settings
from singa.constants import UserType
from singa.errors import (ConfigError, ConflictError, ForbiddenError, InvalidRequestError, NotFoundError,
                          UnauthenticatedError)
from singa.meta_store import events
from singa.meta_store import users as users_repo
from singa.meta_store.db import MetaStore
from singa.meta_store.records import UserRecord

if TYPE_CHECKING:
    from singa.admin.services.inference_jobs import InferenceJobService

log = logging.getLogger(__name__)

EMAIL = re.compile(r'^[^@\s<>(),;:"\[\]\\\x00-\x1f\x7f-\x9f]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?'
                   r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$')
MAX_EMAIL_LENGTH = 254
# Verified against when the email is unknown, so that a miss costs as long as a wrong password.
_DUMMY_HASH = hash_password('not-a-real-password')


@dataclass(frozen=True)
class Login:
    user: UserRecord
    token: str
    expires_at: datetime


def normalise_email(email: str) -> str:
    """``email`` stripped and lower-cased, if it is an address (checked before lower-casing, which
    may lengthen a few characters)."""
    email = email.strip()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL.match(email):
        raise InvalidRequestError(f'{email!r} is not a valid email address', field='email')
    return email.lower()


# -- logging in and out ----------------------------------------------------------------------------

def login(store: MetaStore, signer: TokenSigner, throttle: LoginThrottle, email: str, password: str,
          client_address: str) -> Login:
    """Check the credentials and issue a token. Wrong credentials or a ban: ``UnauthenticatedError``;
    an account or address locked by failed logins: ``TooManyRequestsError`` (nothing is checked)."""
    email = email.strip().lower()
    throttle.check(email, client_address)
    with store.transaction() as cur:
        user = users_repo.get_user_by_email(cur, email)
    if not verify_password(password, user.password_hash if user else _DUMMY_HASH) or user is None:
        throttle.failed(email, client_address)
        raise UnauthenticatedError('wrong email or password')
    throttle.clear_account(email)
    if user.is_banned:
        raise UnauthenticatedError('this user is banned')
    token, expires_at = signer.issue(user.id, user.user_type, user.token_epoch)
    return Login(user, token, expires_at)


def logout(store: MetaStore, user: UserRecord, token: TokenClaims, everywhere: bool = False) -> None:
    """Revoke the token the user sent, or with ``everywhere`` every token issued to them so far."""
    with store.transaction() as cur:
        if everywhere:
            users_repo.revoke_all_tokens(cur, user.id)
        else:
            users_repo.revoke_token(cur, token.token_id, user.id, token.expires_at)


# -- users -----------------------------------------------------------------------------------------

def create_user(store: MetaStore, actor: UserRecord, email: str, password: str,
                user_type: UserType) -> UserRecord:
    if user_type == UserType.SUPERADMIN:
        raise ForbiddenError('a SUPERADMIN cannot be created through the API', field='user_type')
    if user_type == UserType.ADMIN and actor.user_type != UserType.SUPERADMIN:
        raise ForbiddenError('only a SUPERADMIN may create ADMINs', field='user_type')
    email = normalise_email(email)
    check_new_password(password, email)
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


def ban_user(store: MetaStore, actor: UserRecord, email: str, serving: 'InferenceJobService') -> UserRecord:
    """Ban a user: their tokens stop working, their inference jobs stop answering. Banning again
    changes nothing more (and finishes withholding their jobs if that was cut short)."""
    with store.transaction() as cur:
        user = _managed_user(cur, actor, email, 'ban')
        banned = users_repo.ban_user(cur, user.id)
        events.record_event(cur, events.USER_BANNED, subject_id=user.id, data={'by': str(actor.id)})
    serving.withhold_owner(actor, banned.id)
    return banned


def unban_user(store: MetaStore, actor: UserRecord, email: str, serving: 'InferenceJobService') -> UserRecord:
    """Lift a ban: the user may log in again and their live inference jobs get their keys back."""
    with store.transaction() as cur:
        user = _managed_user(cur, actor, email, 'unban')
        unbanned = users_repo.unban_user(cur, user.id)
        if user.is_banned:
            events.record_event(cur, events.USER_UNBANNED, subject_id=user.id, data={'by': str(actor.id)})
    serving.restore_owner(unbanned.id)
    return unbanned


def _managed_user(cur, actor: UserRecord, email: str, verb: str) -> UserRecord:
    """The user ``actor`` means to ``verb`` (locked for the change), if the role rules allow it."""
    email = email.strip().lower()
    user = users_repo.get_user_by_email(cur, email, for_update=True)
    if user is None:
        raise NotFoundError(f'no user with email {email}', resource='user')
    if user.id == actor.id:
        raise ForbiddenError(f'you cannot {verb} yourself', resource='user', id=user.id)
    if user.user_type == UserType.SUPERADMIN:
        raise ForbiddenError(f'nobody may {verb} a SUPERADMIN', resource='user', id=user.id)
    if user.user_type == UserType.ADMIN and actor.user_type != UserType.SUPERADMIN:
        raise ForbiddenError(f'only a SUPERADMIN may {verb} ADMINs', resource='user', id=user.id)
    return user


# -- passwords -------------------------------------------------------------------------------------

def change_password(store: MetaStore, throttle: LoginThrottle, user: UserRecord, old_password: str,
                    new_password: str, client_address: str) -> UserRecord:
    """A user's own change. The old password must be right (403 otherwise: the caller is logged in),
    and a wrong one counts as a failed login (a stolen token is no way to guess the password); the
    new one must follow the policy and differ from the old one. Tokens keep working."""
    throttle.check(user.email, client_address)
    if not verify_password(old_password, user.password_hash):
        throttle.failed(user.email, client_address)
        raise ForbiddenError('the old password is wrong', field='old_password')
    check_new_password(new_password, user.email, field='new_password')
    if new_password == old_password:
        raise InvalidRequestError('the new password is the old one', field='new_password')
    with store.transaction() as cur:
        changed = users_repo.set_password_hash(cur, user.id, hash_password(new_password), revoke_tokens=False)
        events.record_event(cur, events.USER_PASSWORD_CHANGED, subject_id=user.id, data={'by': str(user.id)})
    return changed


def reset_password(store: MetaStore, throttle: LoginThrottle, actor: UserRecord, email: str,
                   new_password: str) -> UserRecord:
    """An admin sets another user's password (by the role rules of a ban): the user's tokens are
    revoked and their failed logins forgotten."""
    with store.transaction() as cur:
        user = _managed_user(cur, actor, email, 'reset the password of')
        check_new_password(new_password, user.email)
        changed = users_repo.set_password_hash(cur, user.id, hash_password(new_password), revoke_tokens=True)
        events.record_event(cur, events.USER_PASSWORD_CHANGED, subject_id=user.id, data={'by': str(actor.id)})
    throttle.clear_account(changed.email)
    return changed


def seed_superadmin(store: MetaStore, settings: Settings) -> bool:
    """Create the superadmin of the settings unless that email exists; True if created now.

    Safe when several admin processes start at once (the insert does nothing on a taken email). An
    existing account is left as it is: changing SINGA_SUPERADMIN_PASSWORD later does not reset it.
    """
    try:
        email = normalise_email(settings.superadmin_email)
        with store.transaction() as cur:
            existing = users_repo.get_user_by_email(cur, email)
        if existing is None:        # an existing account keeps its password, even one the policy now refuses
            check_new_password(settings.superadmin_password, email)
    except InvalidRequestError as e:
        raise ConfigError(f'SINGA_SUPERADMIN_{e.field.upper()}: {e.message}') from None
    if existing is None:
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


def forget_expired(store: MetaStore, throttle: LoginThrottle, idempotency_keys) -> None:
    """Housekeeping, run by the reconciler: revoked tokens past their expiry, failed-login counts
    long quiet, and stored answers of idempotent requests past their time."""
    with store.transaction() as cur:
        users_repo.purge_revoked_tokens(cur)
    throttle.purge()
    idempotency_keys.purge()
