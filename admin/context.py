"""What one admin process holds: its settings and the connections ``create_app`` built."""
from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app

from singa.admin.auth import TokenSigner
from singa.config import Settings
from singa.meta_store.db import MetaStore

EXTENSION_KEY = 'singa'


@dataclass(frozen=True)
class AdminContext:
    settings: Settings
    meta_store: MetaStore
    signer: TokenSigner
    container_manager: Optional[Any] = None   # a singa.container.base container manager
    redis: Optional[Any] = None
    train_jobs: Optional[Any] = None          # singa.admin.services.train_jobs.TrainJobService
    trials: Optional[Any] = None              # singa.admin.services.trials.TrialService
    reconciler: Optional[Any] = None
    inference_jobs: Optional[Any] = None      # singa.admin.services.inference_jobs.InferenceJobService
    model_sandbox: Optional[Any] = None       # where templates are checked (singa.model.inspect)
    login_throttle: Optional[Any] = None      # singa.admin.services.login_throttle.LoginThrottle
    idempotency: Optional[Any] = None         # singa.admin.services.idempotency.IdempotencyKeys
    webhooks: Optional[Any] = None            # singa.admin.services.webhooks.WebhookService
    webhook_deliverer: Optional[Any] = None   # singa.admin.services.webhook_delivery.WebhookDeliverer
    metrics: Optional[Any] = None             # singa.admin.metrics.AdminMetrics
    dataset_downloads: Optional[Any] = None   # singa.admin.services.dataset_downloads.DatasetDownloader
    service_logs: Optional[Any] = None        # singa.admin.services.service_logs.ServiceLogService


def admin_context() -> AdminContext:
    """The context of the app handling the current request."""
    return current_app.extensions[EXTENSION_KEY]
