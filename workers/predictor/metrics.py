"""The predictor's Prometheus metrics, served at its own ``GET /metrics``.

- ``singa_http_requests_total`` and ``singa_http_request_duration_seconds``: its HTTP requests by
  route and status (``singa.http_metrics``);
- ``singa_predictor_batch_size`` (histogram): queries per batch sent to the models;
- ``singa_predictor_model_answer_seconds`` (histogram, by ``trial_id`` and ``model``): how long each
  deployed trial took to answer a batch;
- ``singa_predictor_live_replicas`` (gauge, by ``trial_id`` and ``model``): replicas of each deployed
  trial whose heartbeat is fresh, read from Redis at each scrape.

The predictor runs as one gunicorn worker process (its batcher must see every request), so its
counts live in that process. ``/metrics`` is open unless ``SINGA_METRICS_TOKEN`` is set (the admin
hands it to the predictors it starts); it tells no more than ``/ready`` does.
"""
import hmac
import logging
from typing import Optional

import prometheus_client
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily

from singa.errors import InvalidTokenError, SingaError, UnauthenticatedError
from singa.http_metrics import HttpMetrics
from singa.workers.predictor.batcher import BatchObserver

log = logging.getLogger(__name__)

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
ANSWER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class PredictorMetrics(BatchObserver):
    def __init__(self, channel, trials: list, names: dict, token: str = ''):
        self.registry = CollectorRegistry(auto_describe=True)
        self.http = HttpMetrics(self.registry)
        self.names = names
        self.token = token
        self.batch_size = Histogram('singa_predictor_batch_size', 'Queries per batch sent to the models',
                                    buckets=BATCH_SIZE_BUCKETS, registry=self.registry)
        self.answer = Histogram('singa_predictor_model_answer_seconds', 'Time a deployed trial took to answer a batch',
                                ['trial_id', 'model'], buckets=ANSWER_BUCKETS, registry=self.registry)
        self.registry.register(LiveReplicas(channel, trials, names))

    def batch_sent(self, queries: int) -> None:
        self.batch_size.observe(queries)

    def model_answered(self, trial_id: str, seconds: float) -> None:
        self.answer.labels(trial_id, self.names.get(trial_id, '')).observe(seconds)

    def check_reader(self, authorization: Optional[str]) -> None:
        """Anyone may read, unless a metrics token is set: then only who sends it."""
        if not self.token:
            return
        if not authorization:
            raise UnauthenticatedError('send the metrics token: "Authorization: Bearer <SINGA_METRICS_TOKEN>"')
        if not hmac.compare_digest(authorization.encode(), f'Bearer {self.token}'.encode()):
            raise InvalidTokenError('this is not the metrics token')

    def exposition(self) -> bytes:
        return prometheus_client.generate_latest(self.registry)


class LiveReplicas:
    """``singa_predictor_live_replicas``, read from Redis when scraped."""

    def __init__(self, channel, trials: list, names: dict):
        self.channel = channel
        self.trials = trials
        self.names = names

    def describe(self):
        return []

    def collect(self):
        try:
            counts = self.channel.replica_counts(self.trials)
        except SingaError as e:
            log.warning('metrics: cannot read the replicas\' heartbeats: %s', e)
            return
        family = GaugeMetricFamily('singa_predictor_live_replicas', 'Replicas of a deployed trial with a fresh '
                                   'heartbeat', labels=['trial_id', 'model'])
        for trial_id in self.trials:
            family.add_metric([trial_id, self.names.get(trial_id, '')], counts.get(trial_id, 0))
        yield family
