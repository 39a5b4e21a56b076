"""Prometheus: the admin's metrics, and where to find every predictor's."""
from flask import Blueprint, Response, jsonify

from singa.admin.context import admin_context
from singa.admin.metrics import CONTENT_TYPE
from singa.admin.openapi import operation
from singa.admin.routes.guards import require_metrics_reader
from singa.admin.services.platform_metrics import predictor_targets

bp = Blueprint('metrics', __name__)
WHO = ('Prometheus sends "Authorization: Bearer <SINGA_METRICS_TOKEN>"; an admin\'s login token works too; '
       'SINGA_METRICS_PUBLIC=true opens it to anyone.')


@bp.get('/metrics')
@operation('The admin\'s metrics in Prometheus\'s text format: HTTP requests of every admin process, jobs and '
           'trials by status, trial durations, queue depths, replica health, webhook deliveries',
           media='text/plain', description=WHO)
@require_metrics_reader
def metrics():
    return Response(admin_context().metrics.exposition(), content_type=CONTENT_TYPE)


@bp.get('/metrics/targets')
@operation('Every live predictor as a Prometheus HTTP service-discovery target list (http_sd_configs)',
           response='ScrapeTargets', description=WHO)
@require_metrics_reader
def metrics_targets():
    return jsonify(predictor_targets(admin_context().meta_store))
