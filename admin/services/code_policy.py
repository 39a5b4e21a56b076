"""Whose model code may run here: everyone's where templates run in a sandbox; only the
superadmin's on a process-mode installation that has none (bubblewrap missing or unusable),
unless it was started for one trusted user (``SINGA_SINGLE_USER``)."""
import functools
from typing import Iterable

from singa.constants import UserType
from singa.errors import ForbiddenError

REFUSAL = ('this installation has no sandbox for model code (bubblewrap is missing or cannot run here), so '
           'only the superadmin\'s templates may run; install bubblewrap (apt-get install -y bubblewrap), or '
           'start the platform with --single-user (SINGA_SINGLE_USER=true) if every user is trusted')


@functools.lru_cache(maxsize=None)
def _isolated(container_manager: str, sandbox: str) -> bool:
    if container_manager != 'process':
        return True                      # Swarm: every template runs in a locked-down container
    from singa.sandbox import bubblewrap_works
    return sandbox in ('bubblewrap', 'container') or (sandbox == 'auto' and bubblewrap_works())


def restricted(settings) -> bool:
    """Whether only the superadmin's code may run."""
    return not settings.single_user and not _isolated(settings.container_manager, settings.sandbox)


def check_actor(settings, user_type: str) -> None:
    """Refuse an upload (its check runs the code) by anyone but the superadmin where restricted."""
    if restricted(settings) and user_type != UserType.SUPERADMIN:
        raise ForbiddenError(REFUSAL, resource='model')


def check_owners(cur, settings, model_ids: Iterable) -> None:
    """Refuse to run templates owned by anyone but the superadmin where restricted."""
    model_ids = list(model_ids)
    allowed = set(runnable(cur, settings, model_ids))
    if len(allowed) < len(set(model_ids)):
        cur.execute('SELECT name FROM models WHERE id = ANY(%s)', ([i for i in model_ids if i not in allowed],))
        names = sorted(row['name'] for row in cur.fetchall())
        raise ForbiddenError(f'{REFUSAL} (templates of other users: {", ".join(names)})', resource='model')


def runnable(cur, settings, model_ids: Iterable) -> list:
    """Those of ``model_ids`` whose code may run here."""
    model_ids = list(model_ids)
    if not restricted(settings):
        return model_ids
    cur.execute('SELECT m.id FROM models m JOIN users u ON u.id = m.owner_id'
                ' WHERE m.id = ANY(%s) AND u.user_type = %s', (model_ids, UserType.SUPERADMIN.value))
    return [row['id'] for row in cur.fetchall()]
