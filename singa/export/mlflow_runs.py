"""A train job's trials as MLflow runs: one experiment for the job, one run per finished trial.

The experiment is ``singa/<app>/v<version>`` unless named. A run is named ``<template>-<trial no>``
and has the trial's knobs as parameters; its score as the metric ``score``; its intermediate scores
as ``intermediate_score`` by step; every metric the template logged (``logger.log(loss=...)``) by
its order as the step, at the time it was logged; the SingaAuto ids, template, status, phase and
error as tags (``singa.*``); its start and end times; and, with ``with_parameters``, the trained
parameters as the artifact ``parameters.singa`` (SingaAuto's pickle-free format: read it with
``singa.param_store.decode_params``). COMPLETED runs are FINISHED, ERRORED ones FAILED, PRUNED and
STOPPED ones KILLED.

``tracking_uri`` is any MLflow tracking URI: a database (``sqlite:///mlflow.db``), a server
(``http://host:5000``) or a folder (``file:///path/mlruns``; MLflow 3 asks for
``MLFLOW_ALLOW_FILE_STORE=true`` to write one).
"""
import json
import os
import re
import tempfile
from typing import Optional

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from singa.export.source import ExportedJob, parse_time, read_train_job

STATUSES = {'COMPLETED': 'FINISHED', 'ERRORED': 'FAILED', 'PRUNED': 'KILLED', 'STOPPED': 'KILLED'}
TRIAL_ID_TAG = 'singa.trial_id'
PARAMETERS_FILE = 'parameters.singa'
MAX_TAG = 5000
_BATCH = 900                       # MLflow takes at most 1000 metrics in one log_batch


def export_to_mlflow(client, app: str, app_version: int = -1, tracking_uri: Optional[str] = None,
                     experiment_name: Optional[str] = None, with_parameters: bool = True) -> dict:
    """Write the job's finished trials as runs; return ``{experiment_id, runs_created, runs_skipped}``."""
    if not tracking_uri:
        raise ValueError('name an MLflow tracking URI, such as sqlite:///mlflow.db')
    exported = read_train_job(client, app, app_version)
    tracking = MlflowClient(tracking_uri=tracking_uri)
    name = experiment_name or f'singa/{exported.job["app"]}/v{exported.job["app_version"]}'
    experiment = tracking.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment is not None else tracking.create_experiment(
        name, tags={'singa.train_job_id': exported.job['id'], 'singa.app': exported.job['app']})
    done = _exported_trials(tracking, experiment_id)
    created = 0
    for trial in exported.trials:
        if trial['id'] in done:
            continue
        _write_run(tracking, experiment_id, exported, trial, client if with_parameters else None)
        created += 1
    return {'experiment_id': experiment_id, 'runs_created': created, 'runs_skipped': len(exported.trials) - created}


def _exported_trials(tracking: MlflowClient, experiment_id: str) -> set:
    found, token = set(), None
    while True:
        page = tracking.search_runs([experiment_id], max_results=1000, page_token=token)
        found |= {run.data.tags.get(TRIAL_ID_TAG) for run in page}
        token = page.token
        if not token:
            return found


def _write_run(tracking: MlflowClient, experiment_id: str, exported: ExportedJob, trial: dict, client) -> None:
    template = exported.templates[trial['sub_train_job_id']]
    started, stopped = _ms(trial['started_at']), _ms(trial['stopped_at'])
    tags = {TRIAL_ID_TAG: trial['id'], 'singa.trial_no': str(trial['no']), 'singa.train_job_id': exported.job['id'],
            'singa.sub_train_job_id': trial['sub_train_job_id'], 'singa.model_id': template.model_id,
            'singa.model_name': template.model_name, 'singa.status': trial['status'],
            'singa.phase': trial['phase'] or '', 'singa.error': (trial['error'] or '')[-MAX_TAG:]}
    run = tracking.create_run(experiment_id, start_time=started, tags=tags,
                              run_name=f'{template.model_name}-{trial["no"]}')
    run_id = run.info.run_id
    params = [Param(name, value if isinstance(value, str) else json.dumps(value))
              for name, value in sorted(trial['knobs'].items())]
    metrics = [Metric('score', trial['score'], stopped or started or 0, 0)] if trial['score'] is not None else []
    metrics += [Metric('intermediate_score', float(score), stopped or 0, int(step))
                for step, score in trial['intermediate']]
    metrics += _logged_metrics(client.get_trial_logs(trial['id'])['metrics'] if client else [])
    tracking.log_batch(run_id, params=params)
    for start in range(0, len(metrics), _BATCH):
        tracking.log_batch(run_id, metrics=metrics[start:start + _BATCH])
    if client is not None and trial['is_params_saved']:
        with tempfile.TemporaryDirectory() as folder:
            path = client.download_trial_parameters(trial['id'], os.path.join(folder, PARAMETERS_FILE))
            tracking.log_artifact(run_id, path)
    tracking.set_terminated(run_id, STATUSES[trial['status']], end_time=stopped)


def _logged_metrics(lines: list) -> list:
    """The metrics a template logged: ``[{name: value, ..., time}, ...]``, each name stepped by its order."""
    steps: dict = {}
    found = []
    for line in lines:
        at = _ms(line.get('time')) or 0
        for name, value in line.items():
            if name == 'time' or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            key = re.sub(r'[^A-Za-z0-9_\-. /]', '_', name)[:250] or '_'
            found.append(Metric(key, float(value), at, steps.get(key, 0)))
            steps[key] = steps.get(key, 0) + 1
    return found


def _ms(value: Optional[str]) -> Optional[int]:
    parsed = parse_time(value)
    return int(parsed.timestamp() * 1000) if parsed is not None else None
