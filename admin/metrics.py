"""The admin's Prometheus metrics: its HTTP requests (``singa.http_metrics``), counted in every
gunicorn worker, and the platform's state (``services.platform_metrics``), read at each scrape.

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
import shutil
import tempfile
from typing import Optional

import prometheus_client
from flask import Flask
from prometheus_client import CollectorRegistry, multiprocess, values

from singa.admin.services.platform_metrics import PlatformCollector
from singa.config import gunicorn_master_pid
from singa.container.process_files import ProcessRef
from singa.http_metrics import HttpMetrics

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
MULTIPROCESS_VARIABLE = 'PROMETHEUS_MULTIPROC_DIR'


class AdminMetrics:
    def __init__(self, store, redis_client, settings):
        self.folder = _multiprocess_folder(settings)
        self.http = _http_metrics(self.folder)
        self.platform = PlatformCollector(store, redis_client)

    def instrument(self, app: Flask) -> None:
        self.http.instrument(app)

    def exposition(self) -> bytes:
        """Every metric in Prometheus's text format: this process's (or every worker's) and the platform's."""
        registry = CollectorRegistry()
        if self.folder is not None:
            multiprocess.MultiProcessCollector(registry, path=self.folder)
        else:
            registry.register(_process_registry())
        registry.register(self.platform)
        return prometheus_client.generate_latest(registry)


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
