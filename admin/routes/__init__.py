"""Blueprints of the admin. A route parses, authorises, calls one service function and serialises."""
from singa.admin.routes import datasets, meta, models, tokens, users

BLUEPRINTS = (meta.bp, tokens.bp, users.bp, datasets.bp, models.bp)
