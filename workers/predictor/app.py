"""The predictor: one HTTP endpoint per inference job (Flask under gunicorn). Runs no user code.

``POST /predict`` takes ``{"query": q}`` or ``{"queries": [...]}`` (optionally ``"details": true``)
and answers ``{"prediction": p, "models": [...]}`` or ``{"predictions": [...], "models": [...]}``.
Unless the job is public, callers send a prediction key: ``Authorization: Bearer <key>``.
``GET /health``: the process is up. ``GET /ready``: at least one model has a live replica.
``GET /metrics``: Prometheus metrics (``metrics.py``).
Errors use the admin's envelope ``{"error": {"type", "message", ...}}`` and proper statuses:
400 bad body, 401 no or unknown key, 413 too large, 503 no model answered.
"""
import hashlib
import logging
import threading
import time
from typing import Optional

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from singa.config import Settings
from singa.errors import (InvalidRequestError, InvalidTokenError, PayloadTooLargeError, ServiceUnavailableError,
                          SingaError, UnauthenticatedError)
from singa.logs import configure_logging
from singa.queues import ServingChannel, make_redis
from singa.workers.predictor.batcher import Batcher
from singa.workers.predictor.metrics import CONTENT_TYPE, PredictorMetrics

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 32 << 20
MAX_QUERIES = 1000
KEY_CACHE_SECONDS = 2.0
CONFIG_WAIT_SECONDS = 60.0
_STATUS = {InvalidRequestError: 400, UnauthenticatedError: 401, PayloadTooLargeError: 413,
           ServiceUnavailableError: 503}


class KeyChecker:
    """Prediction keys, checked against the hashes the admin published (positives cached briefly)."""

    def __init__(self, channel: ServingChannel, public: bool):
        self.channel = channel
        self.public = public
        self._ok: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, header: Optional[str]) -> None:
        if self.public:
            return
        if not header or not header.startswith('Bearer ') or not header[7:].strip():
            raise UnauthenticatedError('send a prediction key: "Authorization: Bearer <key>"')
        digest = hashlib.sha256(header[7:].strip().encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            if self._ok.get(digest, 0) > now:
                return
        if not self.channel.has_key(digest):
            raise InvalidTokenError('this prediction key is not valid for this inference job')
        with self._lock:
            self._ok[digest] = now + KEY_CACHE_SECONDS


def create_app(settings: Optional[Settings] = None, *, redis_client=None) -> Flask:
    settings = (settings or Settings.from_env()).require('predictor')
    configure_logging('predictor', settings)
    redis_client = redis_client or make_redis(settings)
    channel = ServingChannel(redis_client, settings.job_id)
    config = _wait_for_config(channel)
    replicas = min((int(t.get('replicas', 1)) for t in config['trials']), default=1)
    max_batch_size = config.get('max_batch_size') or settings.predictor_max_batch_size
    max_wait_ms = config.get('max_wait_ms')
    batcher = Batcher(channel, config, max_batch_size=max_batch_size,
                      max_wait=(settings.predictor_max_wait_ms if max_wait_ms is None else max_wait_ms) / 1000.0,
                      timeout=settings.predictor_timeout_seconds, max_inflight=2 * replicas).start()
    keys = KeyChecker(channel, bool(config.get('is_public')))
    metrics = batcher.observer = PredictorMetrics(channel, batcher.trials, batcher.names, settings.metrics_token)

    app = Flask(__name__)
    app.config['MAX_CONTENT_LENGTH'] = MAX_BODY_BYTES
    app.extensions['singa_predictor'] = batcher
    metrics.http.instrument(app)

    @app.get('/')
    @app.get('/health')
    def health():
        return jsonify({'service': 'singa-predictor', 'status': 'ok', 'inference_job_id': settings.job_id})

    @app.get('/ready')
    def ready():
        live = channel.live_trials(batcher.trials)
        body = {'ready': bool(live), 'models': [{'trial_id': t, 'model_name': batcher.names[t], 'live': t in live}
                                                for t in batcher.trials]}
        return jsonify(body), 200 if live else 503

    @app.post('/predict')
    def predict():
        keys.check(request.headers.get('Authorization'))
        batcher.arriving()
        try:
            queries, single, details = _parse_body()
        except BaseException:
            batcher.abandon()
            raise
        answer = batcher.submit(queries, details=details, counted=True)
        if single:
            answer['prediction'] = answer.pop('predictions')[0]
        return jsonify(answer)

    @app.get('/metrics')
    def prometheus():
        metrics.check_reader(request.headers.get('Authorization'))
        return Response(metrics.exposition(), content_type=CONTENT_TYPE)

    @app.get('/openapi.json')
    def openapi():
        return jsonify(OPENAPI)

    @app.errorhandler(SingaError)
    def singa_error(e: SingaError):
        status = next((code for cls, code in _STATUS.items() if isinstance(e, cls)), 500)
        if status == 500:
            log.exception('unexpected error')
        return jsonify({'error': e.to_dict()}), status

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        name = {413: 'PayloadTooLargeError', 404: 'NotFoundError', 405: 'MethodNotAllowedError'}.get(
            e.code, 'InvalidRequestError')
        return jsonify({'error': {'type': name, 'message': e.description}}), e.code

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception('unexpected error')
        return jsonify({'error': {'type': 'SingaError', 'message': 'internal error'}}), 500

    return app


def _parse_body() -> tuple[list, bool, bool]:
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        raise InvalidRequestError('send a JSON object: {"query": ...} or {"queries": [...]}')
    unknown = set(body) - {'query', 'queries', 'details'}
    if unknown:
        raise InvalidRequestError(f'unknown field(s) {", ".join(sorted(unknown))}', field=sorted(unknown)[0])
    details = body.get('details', False)
    if not isinstance(details, bool):
        raise InvalidRequestError('details must be true or false', field='details')
    if ('query' in body) == ('queries' in body):
        raise InvalidRequestError('send exactly one of "query" and "queries"')
    if 'query' in body:
        if body['query'] is None:
            raise InvalidRequestError('query must not be null', field='query')
        return [body['query']], True, details
    queries = body['queries']
    if not isinstance(queries, list) or not queries:
        raise InvalidRequestError('queries must be a non-empty list', field='queries')
    if len(queries) > MAX_QUERIES:
        raise InvalidRequestError(f'send at most {MAX_QUERIES} queries per request', field='queries')
    if any(q is None for q in queries):
        raise InvalidRequestError('queries must not contain null', field='queries')
    return queries, False, details


def _wait_for_config(channel: ServingChannel) -> dict:
    deadline = time.monotonic() + CONFIG_WAIT_SECONDS
    while True:
        config = channel.config()
        if config is not None and config.get('trials'):
            return config
        if time.monotonic() > deadline:
            raise RuntimeError('the inference job was not published to Redis')
        time.sleep(0.2)


_ERROR = {'$ref': '#/components/schemas/Error'}
OPENAPI = {
    'openapi': '3.1.0',
    'info': {'title': 'SingaAuto predictor', 'version': '1',
             'description': 'The HTTP endpoint of one inference job: the ensemble of its deployed trials.'},
    'paths': {
        '/predict': {'post': {
            'summary': 'Predict one query or a list of queries',
            'security': [{'predictionKey': []}],
            'requestBody': {'required': True, 'content': {'application/json': {'schema': {
                'type': 'object', 'additionalProperties': False,
                'properties': {'query': {'description': 'One query, in the task\'s query format'},
                               'queries': {'type': 'array', 'minItems': 1, 'maxItems': MAX_QUERIES},
                               'details': {'type': 'boolean', 'description': 'Add each model\'s answers'}}}}}},
            'responses': {
                '200': {'description': '{"prediction": p} or {"predictions": [...]}, with "models" (which '
                                       'answered) and, with details, "model_predictions"',
                        'content': {'application/json': {'schema': {'type': 'object'}}}},
                **{str(code): {'description': text, 'content': {'application/json': {'schema': _ERROR}}}
                   for code, text in ((400, 'Bad body, or no model could predict the queries'),
                                      (401, 'Missing or unknown prediction key'), (413, 'Body too large'),
                                      (503, 'No model answered in time'))}}}},
        '/health': {'get': {'summary': 'The predictor process is up', 'responses': {'200': {'description': 'Up'}}}},
        '/ready': {'get': {'summary': 'At least one model has a live replica',
                           'responses': {'200': {'description': 'Ready'}, '503': {'description': 'Not ready'}}}},
        '/metrics': {'get': {
            'summary': 'Prometheus metrics: requests, batch sizes, each model\'s answer time, live replicas',
            'description': 'Open, unless the platform sets SINGA_METRICS_TOKEN: then send it as a bearer token.',
            'responses': {'200': {'description': 'Prometheus\'s text format',
                                  'content': {'text/plain': {'schema': {'type': 'string'}}}},
                          '401': {'description': 'The metrics token is missing or wrong',
                                  'content': {'application/json': {'schema': _ERROR}}}}}},
    },
    'components': {
        'schemas': {'Error': {'type': 'object', 'properties': {'error': {'type': 'object', 'properties': {
            'type': {'type': 'string'}, 'message': {'type': 'string'}}}}}},
        'securitySchemes': {'predictionKey': {'type': 'http', 'scheme': 'bearer',
                                              'description': 'A prediction key of the inference job'}},
    },
}
