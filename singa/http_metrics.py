"""Prometheus counts of the HTTP requests a Flask app answers (the admin and every predictor).

``singa_http_requests_total`` (counter) and ``singa_http_request_duration_seconds`` (histogram)
count requests by ``method``, ``route`` (the route's template, ``/train_jobs/{app}/{app_version}``,
never the raw path, so that ids do not multiply the series; ``<unmatched>`` when no route matched)
and, for the counter, the answer's ``status``.
"""
import re
import time
from typing import Optional

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
UNMATCHED = '<unmatched>'
_METHODS = {'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'}
_STARTED = 'singa_request_started'


class HttpMetrics:
    """The request counter and latency histogram of one process, in ``registry`` (None: the values go
    to prometheus_client's multiprocess files and are gathered by the scrape's own registry)."""

    def __init__(self, registry: Optional[CollectorRegistry]):
        self.requests = Counter('singa_http_requests_total', 'HTTP requests answered', ['method', 'route', 'status'],
                                registry=registry)
        self.latency = Histogram('singa_http_request_duration_seconds', 'Time taken to answer an HTTP request',
                                 ['method', 'route'], buckets=LATENCY_BUCKETS, registry=registry)

    def instrument(self, app) -> None:
        """Count every request ``app`` answers (a Flask app; errors too, once turned into answers)."""
        from flask import g, request

        def start():
            setattr(g, _STARTED, time.perf_counter())

        def observe(response):
            started = g.pop(_STARTED, None)
            method = request.method if request.method in _METHODS else 'OTHER'
            route = route_template(request.url_rule.rule) if request.url_rule is not None else UNMATCHED
            self.requests.labels(method, route, str(response.status_code)).inc()
            if started is not None:
                self.latency.labels(method, route).observe(time.perf_counter() - started)
            return response

        app.before_request(start)
        app.after_request(observe)


def route_template(rule: str) -> str:
    """``/train_jobs/<app_name:app>/<app_version:app_version>`` -> ``/train_jobs/{app}/{app_version}``."""
    return re.sub(r'<(?:[^:<>]+:)?([^<>]+)>', r'{\1}', rule)
