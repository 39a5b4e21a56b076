"""The platform's state as Prometheus metrics, read from PostgreSQL and Redis at each scrape.

These are facts about the whole platform, the same whichever admin process answers the scrape,
so they are not counted in any one process: the collector reads them when asked.

- ``singa_train_jobs``, ``singa_inference_jobs``, ``singa_trials`` (gauges, by ``status``);
- ``singa_trial_duration_seconds`` (histogram, by ``status``): how long every trial that ended ran;
- ``singa_queue_depth`` (gauge): messages waiting in each live tuning inbox (``queue="tuning_inbox"``,
  with ``train_job_id``, ``sub_train_job_id``, ``model``) and query batches waiting in each serving
  queue (``queue="serving"``, with ``inference_job_id``, ``trial_id``, ``model``);
- ``singa_inference_replicas`` (gauge, ``state="live"`` or ``"desired"``, by inference job and trial):
  replicas with a fresh heartbeat, against those deployed;
- ``singa_webhook_deliveries`` (gauge, by ``status``);
- ``singa_metrics_source_up`` (gauge, ``source="postgres"`` or ``"redis"``): 0 when that part could
  not be read for this scrape (its metrics are then missing, not zero).
"""
import logging

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from singa.constants import ServiceType
from singa.errors import SingaError
from singa.meta_store import stats
from singa.queues import ServingChannel, TuningChannel, list_lengths

log = logging.getLogger(__name__)

TRIAL_SECONDS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600)


class PlatformCollector:
    """A Prometheus collector (``collect()``) over the metadata store and Redis."""

    def __init__(self, store, redis_client):
        self.store = store
        self.r = redis_client

    def describe(self):
        return []        # no fixed set: what is live decides the label values

    def collect(self):
        up = GaugeMetricFamily('singa_metrics_source_up', 'Whether this scrape could read the source',
                               labels=['source'])
        try:
            with self.store.transaction(timeout=5) as cur:
                counts = {table: stats.count_by_status(cur, table)
                          for table in ('train_jobs', 'inference_jobs', 'trials', 'webhook_deliveries')}
                durations = stats.trial_duration_buckets(cur, list(TRIAL_SECONDS_BUCKETS))
                subs = stats.live_sub_train_jobs(cur)
                deployed = stats.inference_services(cur, ServiceType.INFERENCE.value)
        except SingaError as e:
            log.warning('metrics: cannot read the metadata store: %s', e)
            up.add_metric(['postgres'], 0)
            yield up
            return
        up.add_metric(['postgres'], 1)
        for table, name in (('train_jobs', 'singa_train_jobs'), ('inference_jobs', 'singa_inference_jobs'),
                            ('trials', 'singa_trials'), ('webhook_deliveries', 'singa_webhook_deliveries')):
            yield _by_status(name, f'{table.replace("_", " ").capitalize()} by status', counts[table])
        yield _durations(durations)
        try:
            yield from self._redis_metrics(subs, deployed)
            up.add_metric(['redis'], 1)
        except SingaError as e:
            log.warning('metrics: cannot read Redis: %s', e)
            up.add_metric(['redis'], 0)
        yield up

    def _redis_metrics(self, subs: list, deployed: list):
        keys = [TuningChannel(self.r, s['train_job_id'], s['sub_job_id']).inbox for s in subs]
        keys += [ServingChannel(self.r, d['inference_job_id']).queue(d['trial_id']) for d in deployed]
        lengths = list_lengths(self.r, keys)
        live = {}
        for job_id in {d['inference_job_id'] for d in deployed}:
            trials = [str(d['trial_id']) for d in deployed if d['inference_job_id'] == job_id]
            live[job_id] = ServingChannel(self.r, job_id).replica_counts(trials)
        depth = GaugeMetricFamily('singa_queue_depth', 'Messages waiting in a tuning inbox or serving queue',
                                  labels=['queue', 'train_job_id', 'sub_train_job_id', 'inference_job_id',
                                          'trial_id', 'model'])
        for sub, n in zip(subs, lengths):
            depth.add_metric(['tuning_inbox', str(sub['train_job_id']), str(sub['sub_job_id']), '', '',
                              sub['model_name']], n)
        replicas = GaugeMetricFamily('singa_inference_replicas', 'Replicas of each deployed trial: live (a fresh '
                                     'heartbeat) and desired', labels=['inference_job_id', 'trial_id', 'model', 'state'])
        for d, n in zip(deployed, lengths[len(subs):]):
            job, trial = str(d['inference_job_id']), str(d['trial_id'])
            depth.add_metric(['serving', '', '', job, trial, d['model_name']], n)
            replicas.add_metric([job, trial, d['model_name'], 'live'], live[d['inference_job_id']].get(trial, 0))
            replicas.add_metric([job, trial, d['model_name'], 'desired'], d['replicas'])
        yield depth
        yield replicas


def _by_status(name: str, text: str, counts: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=['status'])
    for status, n in sorted(counts.items()):
        family.add_metric([status], n)
    return family


def _durations(found: dict) -> HistogramMetricFamily:
    family = HistogramMetricFamily('singa_trial_duration_seconds', 'How long the trials that ended ran',
                                   labels=['status'])
    for status, (cumulative, count, total) in sorted(found.items()):
        buckets = [(str(float(b)), n) for b, n in zip(TRIAL_SECONDS_BUCKETS, cumulative)] + [('+Inf', count)]
        family.add_metric([status], buckets, total)
    return family


def predictor_targets(store) -> list[dict]:
    """Every live predictor as a Prometheus HTTP service-discovery target group (its address inside
    the platform: the host's loopback with local processes, the service's name on the Swarm network)."""
    with store.transaction() as cur:
        found = stats.inference_services(cur, ServiceType.PREDICT.value)
    return [{'targets': [f'{p["hostname"] or "127.0.0.1"}:{p["port"]}'],
             'labels': {'inference_job_id': str(p['inference_job_id']), 'singa_service': 'predictor'}}
            for p in found if p['port'] is not None]
