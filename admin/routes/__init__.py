"""Blueprints of the admin. A route parses, authorises, calls one service function and serialises."""
from singa.admin.routes import (actions, datasets, events, inference_jobs, meta, metrics, models, quotas,
                                service_logs, tokens, train_jobs, users, web, webhooks)

BLUEPRINTS = (meta.bp, tokens.bp, users.bp, datasets.bp, models.bp, train_jobs.bp, inference_jobs.bp, actions.bp,
              web.bp, events.bp, webhooks.bp, quotas.bp, metrics.bp, service_logs.bp)
