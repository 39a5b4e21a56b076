"""The admin as ``singa up`` runs it: gunicorn serving ``create_app()`` in a process of its own,
on the session's PostgreSQL and Redis, with a storage and data directory of its own.

``running_admin`` yields the admin's base URL and stops gunicorn (its whole process group) when
the block ends; whatever the admin's container manager started must be removed by the caller
(``remove_services``), since stopping the admin leaves its jobs' services running by design.
"""
import contextlib
import os

from singa.admin.auth import TokenSigner
from singa.config import Settings
from singa.container.local_process import ProcessContainerManager
from singa.local.admin_process import AdminProcess
from singa.local.servers import free_port
from singa.meta_store import users as users_repo
from singa.meta_store.db import MetaStore


@contextlib.contextmanager
def running_admin(base_env: dict, root, workers: int = 2, **env):
    """Start the admin under gunicorn in ``root``; yield ``(url, settings)``; stop it afterwards."""
    root = str(root)
    env = dict(base_env, SINGA_STORAGE_DIR=os.path.join(root, 'storage'), SINGA_DATA_DIR=os.path.join(root, 'data'),
               SINGA_ADMIN_PORT=str(free_port()), SINGA_ADMIN_WORKERS=str(workers), **env)
    settings = Settings.from_env(env)
    process = AdminProcess(os.path.join(root, 'admin'))
    try:
        process.start(settings, dict(os.environ, **env))
        yield process.local_url(), settings
    finally:
        process.stop()


def admin_log(root) -> str:
    with open(os.path.join(str(root), 'admin', 'admin.log'), errors='replace') as f:
        return f.read()


def remove_services(settings: Settings) -> int:
    """Destroy every service the admin's process container manager started; how many there were."""
    manager = ProcessContainerManager(settings)
    found = manager.list_services({})
    for service in found:
        manager.destroy_service(service, timeout=5)
    return len(found)


def superadmin_token(settings: Settings, store: MetaStore) -> str:
    """A token of the superadmin, issued as the admin issues them (no login, which may be throttled)."""
    with store.transaction() as cur:
        user = users_repo.get_user_by_email(cur, settings.superadmin_email)
    return TokenSigner(settings.token_secret, settings.token_ttl_seconds).issue(user.id, user.user_type,
                                                                                user.token_epoch)[0]
