"""The admin's Prometheus metrics: its HTTP requests, counted in every gunicorn worker, and the
platform's state (``services.platform_metrics``), read at each scrape.

``singa_http_requests_total`` (counter) and ``singa_http_request_duration_seconds`` (histogram)
count requests by ``method``, ``route`` (the route's template, ``/train_jobs/{app}/{app_version}``,
never the raw path, so ids do not multiply the series; ``<unmatched>`` for no route) and, for the
counter, ``status``.

gunicorn runs the admin in several worker processes, and a scrape reaches only one of them. So,
under gunicorn, the workers keep their counts in prometheus_client's multiprocess mode: files in
one folder per gunicorn master (``SINGA_METRICS_DIR``, default ``<tmp>/singa-admin-metrics-<uid>``,
named after the master's pid and start time, so a restarted admin starts from zero and folders of
masters that are gone are removed), which the worker answering a scrape adds up. Only counters and
histograms are kept per process; every gauge is read from the platform at scrape time, so nothing
needs cleaning when a worker exits. Outside gunicorn (tests, one process) the counts stay in memory.
"""
import functools
import os
import re
import shutil
import tempfile
import time
from typing import Optional

import prometheus_client
from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values

from singa.admin.services.platform_metrics import PlatformCollector
from singa.config import gunicorn_master_pid
from singa.container.process_files import ProcessRef

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
MULTIPROCESS_VARIABLE = 'PROMETHEUS_MULTIPROC_DIR'
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_METHODS = {'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'}
UNMATCHED = '<unmatched>'


class HttpMetrics:
    """The request counter and latency histogram of this process (one pair per process)."""

    def __init__(self, registry: Optional[CollectorRegistry]):
        self.requests = Counter('singa_http_requests_total', 'HTTP requests answered by the admin',
                                ['method', 'route', 'status'], registry=registry)
        self.latency = Histogram('singa_http_request_duration_seconds', 'Time the admin took to answer',
                                 ['method', 'route'], buckets=LATENCY_BUCKETS, registry=registry)


class AdminMetrics:
    def __init__(self, store, redis_client, settings):
        self.folder = _multiprocess_folder(settings)
        self.http = _http_metrics(self.folder)
        self.platform = PlatformCollector(store, redis_client)

    def instrument(self, app: Flask) -> None:
        app.before_request(_start_timer)
        app.after_request(self._observe)

    def _observe(self, response):
        started = g.pop('singa_started', None)
        method = request.method if request.method in _METHODS else 'OTHER'
        route = route_template(request.url_rule.rule) if request.url_rule is not None else UNMATCHED
        self.http.requests.labels(method, route, str(response.status_code)).inc()
        if started is not None:
            self.http.latency.labels(method, route).observe(time.perf_counter() - started)
        return response

    def exposition(self) -> bytes:
        """Every metric in Prometheus's text format: this process's (or every worker's) and the platform's."""
        registry = CollectorRegistry()
        if self.folder is not None:
            multiprocess.MultiProcessCollector(registry, path=self.folder)
        else:
            registry.register(_process_registry())
        registry.register(self.platform)
        return prometheus_client.generate_latest(registry)


def route_template(rule: str) -> str:
    """``/train_jobs/<app_name:app>/<app_version:app_version>`` -> ``/train_jobs/{app}/{app_version}``."""
    return re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule)


def _start_timer():
    g.singa_started = time.perf_counter()


@functools.lru_cache(maxsize=1)
def _process_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@functools.lru_cache(maxsize=1)
def _http_metrics(folder: Optional[str]) -> HttpMetrics:
    # In multiprocess mode the values live in the folder's files; the registry is the fresh one of each scrape.
    return HttpMetrics(None if folder is not None else _process_registry())


def _multiprocess_folder(settings) -> Optional[str]:
    """This gunicorn master's folder for the workers' counts (made, and the environment and
    prometheus_client switched to it), or None outside gunicorn."""
    master = gunicorn_master_pid()
    ref = ProcessRef.of(master) if master is not None else None
    if ref is None:
        return None
    base = settings.metrics_dir or os.path.join(tempfile.gettempdir(), f'singa-admin-metrics-{os.getuid()}')
    os.makedirs(base, mode=0o700, exist_ok=True)
    for name in os.listdir(base):
        pid, _, start = name.partition('-')
        if pid.isdigit() and start.isdigit() and not ProcessRef(int(pid), int(start)).alive():
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    folder = os.path.join(base, f'{ref.pid}-{ref.start_time}')
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.environ[MULTIPROCESS_VARIABLE] = folder
    # prometheus_client picks its value class when first imported, which may have been before now.
    values.ValueClass = values.get_value_class()
    return folder
