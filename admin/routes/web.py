"""The web admin: one HTML shell for every page under ``/web/``, and the static files it loads.

The pages are plain HTML built in the browser by small ES modules (``admin/web/static/``) that
call this same REST API with the bearer token ``POST /tokens`` gave at login, so the web admin
can do exactly what the client SDK can and the server needs no session or page templates. Which
page to show is read by ``app.js`` from the path; every page path answers the same shell. Charts
use the vendored Apache ECharts (``static/vendor/echarts``, see ``scripts/vendor_echarts.sh``);
nothing is fetched from another origin, which the Content-Security-Policy enforces.
"""
from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

from singa.admin.openapi import operation

bp = Blueprint('web', __name__)

WEB_DIR = Path(__file__).resolve().parent.parent / 'web'
STATIC_DIR = WEB_DIR / 'static'
# Same origin only; no inline scripts. ECharts sets element styles from script, which style-src
# does not govern, so no 'unsafe-inline' is needed for styles either.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                           "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                           "frame-ancestors 'none'")
SECURITY_HEADERS = {'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff',
                    'Referrer-Policy': 'same-origin', 'Cache-Control': 'no-cache'}


def wants_html() -> bool:
    """True for a browser navigating here (it prefers HTML); API clients send ``*/*`` or JSON."""
    accept = request.accept_mimetypes
    return accept.best_match(['application/json', 'text/html']) == 'text/html' and accept['text/html'] > 0


@bp.get('/web/')
@operation('The web admin (an HTML page; it logs in and then calls this API)', media='text/html')
def web_index():
    return _shell()


@bp.get('/web/<path:page>')
@operation('A page of the web admin (the same HTML shell; the page is chosen in the browser)', media='text/html',
           errors=(404,), description='404 for a path no page could have (a line break in it).')
def web_page(page: str):
    return _shell()


@bp.get('/web/static/<path:filename>')
@operation('A static file of the web admin (scripts, styles, the vendored chart library)',
           media='application/octet-stream', errors=(404,))
def web_static(filename: str):
    response = send_from_directory(STATIC_DIR, filename, max_age=0)
    response.headers.update(SECURITY_HEADERS)
    return response


def _shell() -> Response:
    response = send_from_directory(WEB_DIR, 'index.html', mimetype='text/html', max_age=0)
    response.headers.update(SECURITY_HEADERS)
    return response
