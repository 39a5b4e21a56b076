"""Liveness, health and the API's own description."""
from flask import Blueprint, current_app, jsonify, redirect

from singa.admin.context import admin_context
from singa.admin.openapi import build_document, operation
from singa.admin.routes.web import wants_html
from singa.admin.services.health import check_dependencies

bp = Blueprint('meta', __name__)
UP = {'service': 'singa-admin', 'status': 'ok'}


@bp.get('/')
@operation('Is the admin up (no dependency checked)', response='Health',
           description='A browser (one that prefers text/html) is redirected to the web admin at /web/ instead.')
def index():
    if wants_html():
        return redirect('/web/', code=302)
    return jsonify(UP)


@bp.get('/health')
@operation('Is the admin healthy: do PostgreSQL and Redis answer', response='Health', errors=(503,),
           description='503 naming each dependency that does not answer (details: each one\'s state).')
def health():
    context = admin_context()
    return jsonify(dict(UP, dependencies=check_dependencies(context.meta_store, context.redis)))


@bp.get('/openapi.json')
@operation('This OpenAPI document', response='OpenAPI')
def openapi_document():
    return jsonify(build_document(current_app))
