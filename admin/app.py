"""The admin's app factory. Serve it with ``gunicorn 'singa.admin.app:create_app()'``.

Nothing here connects at import time: ``create_app`` reads the settings, builds the metadata store,
applies the migrations, seeds the superadmin and registers the blueprints and the one JSON error
handler. Each gunicorn worker runs it once; concurrent starts are safe (migrations take an advisory
lock, the superadmin insert does nothing when the row exists).
"""
import logging
from typing import Optional

from flask import Flask

from singa.admin import http_errors
from singa.admin.auth import TokenSigner
from singa.admin.context import EXTENSION_KEY, AdminContext
from singa.admin.routes import BLUEPRINTS
from singa.admin.routes.uploads import UploadRequest, remove_leftover_uploads
from singa.admin.services import files, users
from singa.config import Settings
from singa.meta_store.db import MetaStore

log = logging.getLogger(__name__)

# JSON bodies are small; upload routes raise the limit for their own request.
MAX_JSON_BODY_BYTES = 1 << 20


def create_app(settings: Optional[Settings] = None, *, meta_store: Optional[MetaStore] = None,
               container_manager=None) -> Flask:
    """Build the admin app. ``settings`` default to ``Settings.from_env()`` checked for the admin role;
    ``meta_store`` defaults to one built from them. Both are the caller's to close if passed in."""
    settings = (settings or Settings.from_env()).require('admin')
    if meta_store is None:
        meta_store = MetaStore(settings.postgres_dsn, max_connections=settings.postgres_pool_max)
    meta_store.migrate()
    users.seed_superadmin(meta_store, settings)
    files.ensure_storage(settings)

    app = Flask(__name__, static_folder=None)
    app.request_class = UploadRequest
    app.config['MAX_CONTENT_LENGTH'] = MAX_JSON_BODY_BYTES
    app.json.sort_keys = False
    app.extensions[EXTENSION_KEY] = AdminContext(
        settings=settings, meta_store=meta_store,
        signer=TokenSigner(settings.token_secret, settings.token_ttl_seconds),
        container_manager=container_manager)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    http_errors.register_error_handler(app)
    app.teardown_request(remove_leftover_uploads)
    return app
