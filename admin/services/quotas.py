"""Per-user quotas: how many jobs may run at once, how many workers and GPUs they may hold, how
many bytes of datasets and templates may be stored.

Each limit is the one an admin set for the user, else the platform's default (``SINGA_QUOTA_*``);
-1 means no limit, and the SUPERADMIN has none. A request that would go over a limit is refused
with 403 ``QuotaExceededError`` naming the limit, what it allows, what is in use and what the
request needed. Creating requests check in the transaction that records what they create, under a
per-user lock, so two requests at once cannot both squeeze under a limit.

Who may set a quota follows the rules of a ban: admins set other users' quotas, only a SUPERADMIN
sets an ADMIN's, nobody sets a SUPERADMIN's or their own. Everyone may read their own.
"""
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.constants import ADMIN_TYPES, EventKind, UserType
from singa.errors import ForbiddenError, NotFoundError, QuotaExceededError
from singa.meta_store import events, quotas as quotas_repo
from singa.meta_store import users as users_repo
from singa.meta_store.records import QuotaRecord, UserRecord

UNLIMITED = -1
LIMITS = quotas_repo.LIMITS
LIMIT_TEXT = {'running_jobs': 'train and inference jobs running at once',
              'workers': 'train and inference workers (replicas) running at once',
              'gpus': 'GPUs held by running workers', 'stored_bytes': 'bytes of datasets and model templates stored'}


@dataclass(frozen=True)
class Quota:
    user_id: uuid.UUID
    limits: dict            # in force: name -> int (-1: none)
    custom: dict            # set by an admin: name -> int, or None for the default
    usage: dict             # name -> int in use now
    updated_at: Optional[object] = None
    updated_by: Optional[uuid.UUID] = None


def defaults(settings) -> dict:
    return {name: getattr(settings, f'quota_{name}') for name in LIMITS}


def limits_of(settings, user: UserRecord, record: Optional[QuotaRecord]) -> dict:
    if user.user_type == UserType.SUPERADMIN:
        return {name: UNLIMITED for name in LIMITS}
    chosen = defaults(settings)
    for name in LIMITS:
        value = getattr(record, name, None) if record is not None else None
        if value is not None:
            chosen[name] = value
    return chosen


def check(cur, settings, user: UserRecord, **requested: int) -> None:
    """Raise ``QuotaExceededError`` if ``user`` asking for ``requested`` (limit name -> amount) would go
    over a limit. Call it in the transaction that records what is asked for; it holds the user's lock."""
    quotas_repo.lock_usage(cur, user.id)
    limits = limits_of(settings, user, quotas_repo.get_quota(cur, user.id))
    asked = {name: amount for name, amount in requested.items() if amount and limits[name] != UNLIMITED}
    if not asked:
        return
    in_use = quotas_repo.usage(cur, user.id)
    for name, amount in asked.items():
        if in_use[name] + amount > limits[name]:
            raise QuotaExceededError(
                f'quota exceeded: your {name} quota ({LIMIT_TEXT[name]}) is {limits[name]}; {in_use[name]} in use and '
                f'this request needs {amount} more. Stop or delete something, or ask an admin to raise it',
                resource='quota', field=name, details={'limit': name, 'allowed': limits[name],
                                                       'in_use': in_use[name], 'requested': amount})


def get_quota(store, settings, actor: UserRecord, user_id: uuid.UUID) -> Quota:
    """A user's quota and usage: your own, or any user's for an admin."""
    if user_id != actor.id and actor.user_type not in ADMIN_TYPES:
        raise NotFoundError('no such user', resource='user', id=user_id)
    with store.transaction() as cur:
        user = _user(cur, user_id)
        return _quota(cur, settings, user, quotas_repo.get_quota(cur, user_id))


def set_quota(store, settings, actor: UserRecord, user_id: uuid.UUID, limits: dict) -> Quota:
    """Replace a user's limits: each given one (a number, or -1 for none) replaces the default; a
    limit left out is the platform's default again."""
    with store.transaction() as cur:
        user = _user(cur, user_id)
        if user.id == actor.id:
            raise ForbiddenError('you cannot set your own quota', resource='user', id=user_id)
        if user.user_type == UserType.SUPERADMIN:
            raise ForbiddenError('a SUPERADMIN has no quota', resource='user', id=user_id)
        if user.user_type == UserType.ADMIN and actor.user_type != UserType.SUPERADMIN:
            raise ForbiddenError('only a SUPERADMIN may set the quota of ADMINs', resource='user', id=user_id)
        record = quotas_repo.set_quota(cur, user_id, limits, actor.id)
        events.record_event(cur, EventKind.QUOTA_CHANGED, subject_id=user_id, owner_id=user_id, actor_id=actor.id,
                            data={name: limits.get(name) for name in LIMITS})
        return _quota(cur, settings, user, record)


def _user(cur, user_id: uuid.UUID) -> UserRecord:
    user = users_repo.get_user(cur, user_id)
    if user is None:
        raise NotFoundError('no such user', resource='user', id=user_id)
    return user


def _quota(cur, settings, user: UserRecord, record: Optional[QuotaRecord]) -> Quota:
    custom = {name: getattr(record, name) if record is not None else None for name in LIMITS}
    return Quota(user.id, limits_of(settings, user, record), custom, quotas_repo.usage(cur, user.id),
                 getattr(record, 'updated_at', None), getattr(record, 'updated_by', None))
