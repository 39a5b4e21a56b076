"""The predictor: one HTTP endpoint per inference job (Flask under gunicorn). Runs no user code.

``POST /predict`` takes ``{"query": q}`` or ``{"queries": [...]}`` (optionally ``"details": true``)
and answers ``{"prediction": p, "models": [...]}`` or ``{"predictions": [...], "models": [...]}``.
``POST /`` is the original SingaAuto's contract: a JSON body is one query, or each multipart file
field ``img`` is one (an image, decoded to nested lists of pixels: ``images.py``); it answers the
JSON list of predictions. Both check the same keys and limits: unless the job is public, callers
send a prediction key, ``Authorization: Bearer <key>``.
``GET /health``: the process is up and its batcher's threads run (503 when one is dead or stuck).
``GET /ready``: that, and at least one model has a live replica.
``GET /metrics``: Prometheus metrics (``metrics.py``).
Errors use the admin's envelope ``{"error": {"type", "message", ...}}`` and proper statuses:
400 bad body (see ``body.py``) or a query not in the task's format (the task's ``check_queries``,
``singa.tasks``), 401 no or unknown key, 413 too large, 503 no model answered.

A watchdog renews the predictor's heartbeat in Redis while the batcher is healthy (the admin
calls the job RUNNING only then); when the batcher stays unhealthy for ``restart_after`` seconds
it stops this process with SIGTERM, so that its supervisor (gunicorn's arbiter, which starts a
fresh worker) replaces it.
"""
import hashlib
import logging
import os
import signal
import threading
import time
from typing import Callable, Optional

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from singa.config import Settings
from singa.errors import (InvalidRequestError, InvalidTokenError, PayloadTooLargeError, ServiceUnavailableError,
                          SingaError, UnauthenticatedError)
from singa.logs import configure_logging
from singa.queues import ServingChannel, ServingConfig, make_redis
from singa.tasks import get_task
from singa.workers.loop import Ticker
from singa.workers.predictor.batcher import Batcher, loops_ok
from singa.workers.predictor.body import BodyLimits, PredictBody, parse_predict_body, parse_query_body
from singa.workers.predictor.images import parse_image_upload
from singa.workers.predictor.metrics import CONTENT_TYPE, PredictorMetrics

log = logging.getLogger(__name__)

KEY_CACHE_SECONDS = 2.0
CONFIG_WAIT_SECONDS = 60.0
WATCH_SECONDS = 1.0
HEARTBEAT_TTL = 3.0
RESTART_AFTER_SECONDS = 15.0
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


def create_app(settings: Optional[Settings] = None, *, redis_client=None,
               restart_after: Optional[float] = RESTART_AFTER_SECONDS) -> Flask:
    """The predictor's app (``restart_after`` None: never stop the process, for tests in process)."""
    settings = (settings or Settings.from_env()).require('predictor')
    configure_logging('predictor', settings)
    redis_client = redis_client or make_redis(settings)
    channel = ServingChannel(redis_client, settings.job_id)
    config = _wait_for_config(channel)
    limits = BodyLimits.from_settings(settings)
    replicas = min((t.replicas for t in config.trials), default=1)
    max_batch_size = config.max_batch_size or settings.predictor_max_batch_size
    max_wait_ms = settings.predictor_max_wait_ms if config.max_wait_ms is None else config.max_wait_ms
    batcher = Batcher(channel, config, max_batch_size=max_batch_size, max_batch_bytes=limits.max_bytes,
                      max_wait=max_wait_ms / 1000.0, timeout=settings.predictor_timeout_seconds,
                      replica_timeout=settings.predictor_replica_timeout,
                      max_inflight=2 * replicas).start()
    watchdog = Watchdog(batcher, channel, restart_after).start()
    keys = KeyChecker(channel, config.is_public)
    task = get_task(config.task)      # its query format is checked here, before anything is batched
    metrics = batcher.observer = PredictorMetrics(channel, batcher.trials, batcher.names, settings.metrics_token)

    app = Flask(__name__)
    app.config['MAX_CONTENT_LENGTH'] = limits.max_bytes
    app.extensions['singa_predictor'] = batcher
    app.extensions['singa_watchdog'] = watchdog
    metrics.http.instrument(app)

    @app.get('/')
    @app.get('/health')
    def health():
        loops = batcher.health()
        healthy = loops_ok(loops)
        return jsonify({'service': 'singa-predictor', 'status': 'ok' if healthy else 'failing',
                        'inference_job_id': settings.job_id, 'loops': loops}), 200 if healthy else 503

    @app.get('/ready')
    def ready():
        loops = batcher.health()
        live = channel.live_trials(batcher.trials)
        body = {'ready': bool(live) and loops_ok(loops), 'loops': loops,
                'models': [{'trial_id': t, 'model_name': batcher.names[t], 'live': t in live} for t in batcher.trials]}
        return jsonify(body), 200 if body['ready'] else 503

    @app.get('/metrics')
    def prometheus():
        metrics.check_reader(request.headers.get('Authorization'))
        return Response(metrics.exposition(), content_type=CONTENT_TYPE)

    def submit(parse: Callable[[], PredictBody]) -> tuple[PredictBody, dict]:
        """Check the key, parse the body (the batcher waits for it meanwhile), then predict."""
        keys.check(request.headers.get('Authorization'))
        batcher.arriving()
        try:
            body = parse()
            task.check_queries(body.queries)
        except BaseException:
            batcher.abandon()
            raise
        return body, batcher.submit(body.queries, details=body.details, counted=True, size=body.size)

    @app.post('/predict')
    def predict():
        body, answer = submit(lambda: parse_predict_body(request.get_data(cache=False), limits))
        if body.single:
            answer['prediction'] = answer.pop('predictions')[0]
        return jsonify(answer)

    @app.post('/')
    def predict_as_singa_auto():
        if request.mimetype == 'multipart/form-data':
            _, answer = submit(lambda: parse_image_upload(request.files, request.form, limits,
                                                          request.content_length or 0))
        else:
            _, answer = submit(lambda: parse_query_body(request.get_data(cache=False), limits))
        return jsonify(answer['predictions'])

    @app.get('/openapi.json')
    def openapi():
        return jsonify(openapi_document(limits))

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
        message = f'the body is larger than {limits.max_bytes} bytes' if e.code == 413 else e.description
        return jsonify({'error': {'type': name, 'message': message}}), e.code

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception('unexpected error')
        return jsonify({'error': {'type': 'SingaError', 'message': 'internal error'}}), 500

    return app


class Watchdog(Ticker):
    """Every second: renew the predictor's heartbeat while the batcher is healthy; once it has been
    unhealthy for ``restart_after`` s, SIGTERM this process (its supervisor starts a fresh one)."""

    def __init__(self, batcher: Batcher, channel: ServingChannel, restart_after: Optional[float],
                 stop_process: Callable[[], None] = lambda: os.kill(os.getpid(), signal.SIGTERM)):
        super().__init__(WATCH_SECONDS, self.check, name='watchdog')
        self.batcher = batcher
        self.channel = channel
        self.restart_after = restart_after
        self.stop_process = stop_process
        self.failing_since: Optional[float] = None

    def start(self) -> 'Watchdog':
        self.check()
        super().start()
        return self

    def check(self) -> None:
        loops = self.batcher.health()
        if loops_ok(loops):
            self.failing_since = None
            self.channel.predictor_heartbeat(self.batcher.predictor_id, HEARTBEAT_TTL)
            return
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        log.error('the predictor is failing: %s', loops)
        if self.restart_after is not None and now - self.failing_since >= self.restart_after:
            log.error('the predictor has been failing for %.0f s: stopping this process', now - self.failing_since)
            self.stop_process()


def _wait_for_config(channel: ServingChannel) -> ServingConfig:
    deadline = time.monotonic() + CONFIG_WAIT_SECONDS
    while True:
        config = channel.config()
        if config is not None and config.trials:
            return config
        if time.monotonic() > deadline:
            raise RuntimeError('the inference job was not published to Redis')
        time.sleep(0.2)


_ERROR = {'$ref': '#/components/schemas/Error'}
def openapi_document(limits: BodyLimits) -> dict:
    """The predictor's OpenAPI document (its limits are the settings')."""
    responses = {str(code): {'description': text, 'content': {'application/json': {'schema': _ERROR}}}
                 for code, text in ((400, 'Bad body (not JSON, NaN or Infinity, too many queries, nested too '
                                          'deeply, an image that does not decode), a query not in the task\'s '
                                          'format, or no model could predict the queries'),
                                    (401, 'Missing or unknown prediction key'),
                                    (413, f'Body larger than {limits.max_bytes} bytes'),
                                    (503, 'No model answered in time'))}
    return {
        'openapi': '3.1.0',
        'info': {'title': 'SingaAuto predictor', 'version': '1',
                 'description': 'The HTTP endpoint of one inference job: the ensemble of its deployed trials.'},
        'paths': {
            '/predict': {'post': {
                'summary': 'Predict one query or a list of queries',
                'security': [{'predictionKey': []}],
                'requestBody': {'required': True, 'content': {'application/json': {'schema': {
                    'type': 'object', 'additionalProperties': False,
                    'properties': {'query': {'description': 'One query, in the task\'s query format; at most '
                                                            f'{limits.max_depth} levels of arrays and objects'},
                                   'queries': {'type': 'array', 'minItems': 1, 'maxItems': limits.max_queries},
                                   'details': {'type': 'boolean', 'description': 'Add each model\'s answers'}}}}}},
                'responses': {
                    '200': {'description': '{"prediction": p} or {"predictions": [...]}, with "models" (which '
                                           'answered) and, with details, "model_predictions"',
                            'content': {'application/json': {'schema': {'type': 'object'}}}},
                    **responses}}},
            '/': {
                'get': {'summary': 'The same as GET /health',
                        'responses': {'200': {'description': 'Up'},
                                      '503': {'description': 'A thread of the predictor is dead or stuck'}}},
                'post': {
                    'summary': 'Predict as the original SingaAuto\'s predictor did: one JSON query, or images',
                    'description': 'A JSON body is one query, in the task\'s query format. A multipart body holds '
                                   'images, each a file field named "img" and each one query: it is decoded to '
                                   'nested lists of pixels (H x W for a grayscale image, H x W x 3 for any other, '
                                   f'values 0 to 255), at most {limits.max_queries} images and '
                                   f'{limits.max_image_pixels} pixels in all. The prediction key and the limits '
                                   'are those of POST /predict.',
                    'security': [{'predictionKey': []}],
                    'requestBody': {'required': True, 'content': {
                        'application/json': {'schema': {'description': 'One query (any JSON value but null)'}},
                        'multipart/form-data': {'schema': {
                            'type': 'object', 'additionalProperties': False, 'required': ['img'],
                            'properties': {'img': {'type': 'array', 'minItems': 1, 'maxItems': limits.max_queries,
                                                   'items': {'type': 'string', 'format': 'binary'},
                                                   'description': 'Image files (PNG, JPEG, ... : what Pillow '
                                                                  'decodes)'}}}}}},
                    'responses': {
                        '200': {'description': 'The ensemble\'s predictions, one per query, in order',
                                'content': {'application/json': {'schema': {'type': 'array'}}}},
                        **responses,
                        '413': {'description': f'Body larger than {limits.max_bytes} bytes, or images of more '
                                               f'than {limits.max_image_pixels} pixels in all',
                                'content': {'application/json': {'schema': _ERROR}}}}}},
            '/health': {'get': {'summary': 'The predictor process is up and its threads run',
                                'responses': {'200': {'description': 'Up'},
                                              '503': {'description': 'A thread of the predictor is dead or stuck'}}}},
            '/ready': {'get': {'summary': 'The predictor is up and at least one model has a live replica',
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
