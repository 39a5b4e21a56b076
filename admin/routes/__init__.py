"""Blueprints of the admin. A route parses, authorises, calls one service function and serialises."""
from singa.admin.routes import actions, datasets, inference_jobs, meta, models, tokens, train_jobs, users, web

BLUEPRINTS = (meta.bp, tokens.bp, users.bp, datasets.bp, models.bp, train_jobs.bp, inference_jobs.bp, actions.bp,
              web.bp)
