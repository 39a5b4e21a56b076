"""The admin's app factory. Serve it with ``gunicorn 'singa.admin.app:create_app()'``.

Nothing here connects at import time: ``create_app`` reads the settings, builds the metadata store,
applies the migrations, seeds the superadmin and registers the blueprints and the one JSON error
handler. Each gunicorn worker runs it once; concurrent starts are safe (migrations take an advisory
lock, the superadmin insert does nothing when the row exists).
"""
import functools
import logging
from typing import Optional

from flask import Flask

from singa.admin import http_errors
from singa.admin.auth import TokenSigner
from singa.admin.metrics import AdminMetrics
from singa.admin.context import EXTENSION_KEY, AdminContext
from singa.admin.routes import BLUEPRINTS
from singa.admin.routes.fields import CONVERTERS
from singa.admin.routes.uploads import UploadRequest, remove_leftover_uploads
from singa.admin.services import files, users
from singa.admin.services.dataset_downloads import DatasetDownloader
from singa.admin.services.deployer import Deployer
from singa.admin.services.idempotency import IdempotencyKeys
from singa.admin.services.inference_jobs import InferenceJobService
from singa.admin.services.login_throttle import LoginThrottle
from singa.admin.services.reconciler import Reconciler
from singa.admin.services.service_logs import ServiceLogService
from singa.admin.services.train_jobs import TrainJobService
from singa.admin.services.trials import TrialService
from singa.admin.services.webhook_delivery import WebhookDeliverer
from singa.admin.services.webhooks import WebhookService
from singa.config import Settings, gunicorn_master_pid
from singa.container.base import make_container_manager
from singa.logs import configure_logging
from singa.meta_store.db import MetaStore
from singa.model.inspect import make_check_sandbox
from singa.queues import make_redis

log = logging.getLogger(__name__)

# JSON bodies are small; upload routes raise the limit for their own request.
MAX_JSON_BODY_BYTES = 1 << 20


def create_app(settings: Optional[Settings] = None, *, meta_store: Optional[MetaStore] = None,
               container_manager=None, redis_client=None, start_reconciler: bool = True) -> Flask:
    """Build the admin app. ``settings`` default to ``Settings.from_env()`` checked for the admin role;
    ``meta_store``, ``container_manager`` and ``redis_client`` default to ones built from them (the
    caller's to close if passed in). The reconciler thread starts unless ``start_reconciler`` is
    false, and so does the webhook delivery thread (tests drive them with ``run_once()`` of
    ``app.extensions['singa'].reconciler`` and ``.webhook_deliverer``)."""
    settings = (settings or Settings.from_env()).require('admin')
    if settings.log_format == 'json' or gunicorn_master_pid() is not None:   # not over a test's own logging
        configure_logging('admin', settings)
    if meta_store is None:
        meta_store = MetaStore(settings.postgres_dsn, max_connections=settings.postgres_pool_max)
    meta_store.migrate()
    users.seed_superadmin(meta_store, settings)
    files.ensure_storage(settings)

    if container_manager is None:
        container_manager = make_container_manager(settings)
    if redis_client is None:
        redis_client = make_redis(settings)
    deployer = Deployer(meta_store, settings, container_manager, redis_client)
    reconciler = Reconciler(meta_store, settings, container_manager, redis_client, deployer)
    inference = InferenceJobService(meta_store, settings, deployer, redis_client)
    reconciler.add_hook(inference.reconcile)
    login_throttle = LoginThrottle(meta_store)
    idempotency = IdempotencyKeys(meta_store, settings.token_secret)
    reconciler.add_hook(functools.partial(users.forget_expired, meta_store, login_throttle, idempotency))
    webhooks = WebhookService(meta_store, settings)
    reconciler.add_hook(webhooks.forget_old_deliveries)
    deliverer = WebhookDeliverer(meta_store, settings, webhooks)
    metrics = AdminMetrics(meta_store, redis_client, settings)

    app = Flask(__name__, static_folder=None)
    app.request_class = UploadRequest
    app.config['MAX_CONTENT_LENGTH'] = MAX_JSON_BODY_BYTES
    app.json.sort_keys = False
    app.url_map.converters.update(CONVERTERS)          # before the routes that use them
    app.extensions[EXTENSION_KEY] = AdminContext(
        settings=settings, meta_store=meta_store,
        signer=TokenSigner(settings.token_secret, settings.token_ttl_seconds),
        container_manager=container_manager, redis=redis_client,
        train_jobs=TrainJobService(meta_store, settings, deployer, redis_client),
        trials=TrialService(meta_store, settings), reconciler=reconciler, inference_jobs=inference,
        model_sandbox=make_check_sandbox(settings), login_throttle=login_throttle, idempotency=idempotency,
        webhooks=webhooks, webhook_deliverer=deliverer, metrics=metrics,
        dataset_downloads=DatasetDownloader(settings), service_logs=ServiceLogService(meta_store, settings, inference))
    metrics.instrument(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    http_errors.register_error_handler(app)
    app.teardown_request(remove_leftover_uploads)
    if start_reconciler:
        reconciler.start()
        deliverer.start()
    return app
