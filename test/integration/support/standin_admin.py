"""A stand-in for ``singa.admin.app`` that the local stack test serves while the real admin is
not on this branch: it checks the settings ``singa up`` hands over (it reaches PostgreSQL and
Redis with them) and answers ``GET /health`` and ``POST /tokens`` for the superadmin."""
import secrets

import redis
from flask import Flask, jsonify, request

from singa.config import Settings
from singa.meta_store.db import MetaStore


def create_app():
    settings = Settings.from_env().require('admin')
    store = MetaStore(settings.postgres_dsn, max_connections=2)
    store.migrate()
    cache = redis.Redis(host=settings.redis_host, port=settings.redis_port,
                        password=settings.redis_password, socket_timeout=2)
    app = Flask(__name__)

    @app.get('/health')
    def health():
        with store.transaction() as cur:
            cur.execute('SELECT 1 AS ok')
        cache.ping()
        return jsonify(status='ok', mode=settings.mode, container_manager=settings.container_manager)

    @app.post('/tokens')
    def tokens():
        body = request.get_json(force=True)
        if (body.get('email'), body.get('password')) != (settings.superadmin_email, settings.superadmin_password):
            return jsonify(type='UnauthenticatedError', message='wrong email or password'), 401
        return jsonify(token=secrets.token_urlsafe(16))

    return app
