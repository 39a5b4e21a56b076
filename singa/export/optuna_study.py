"""A train job's trials as Optuna studies, one per template (each has its own search space).

A study is named ``<prefix><app>-v<version>-<template name>`` (prefix empty by default) and
maximises the score. Each finished trial becomes an Optuna trial: its searched knobs as parameters
with their distributions (an ``ArchKnob`` ``a`` as ``a[0]``, ``a[1]``, ...; fixed and policy knobs
only in the ``knobs`` user attribute), its score as the value, its intermediate scores by step,
its start and end times, and as user attributes its SingaAuto id and number, knobs, phase and
error. COMPLETED is COMPLETE, PRUNED is PRUNED, ERRORED and STOPPED are FAIL.

``storage`` is an Optuna storage: an RDB URL (``sqlite:///studies.db``, ``postgresql://...``), a
path to a journal file (anything without ``://``), or a storage object. optuna-dashboard opens
either: ``optuna-dashboard sqlite:///studies.db`` or ``optuna-dashboard ./studies.log``.
"""
import json
from typing import Optional

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from singa.advisor.space import SearchSpace
from singa.export.source import ExportedJob, parse_time, read_train_job
from singa.model import deserialize_knob_config

STATES = {'COMPLETED': TrialState.COMPLETE, 'PRUNED': TrialState.PRUNED, 'ERRORED': TrialState.FAIL,
          'STOPPED': TrialState.FAIL}
TRIAL_ID_ATTR = 'singa_trial_id'


def export_to_optuna(client, app: str, app_version: int = -1, storage=None, study_prefix: Optional[str] = None) -> dict:
    """Write the job's finished trials to ``storage``; return ``{study name: trials added}``."""
    if storage is None:
        raise ValueError('name an Optuna storage: an RDB URL such as sqlite:///studies.db, or a journal file path')
    return write_studies(read_train_job(client, app, app_version), open_storage(storage), study_prefix or '')


def open_storage(storage):
    if isinstance(storage, str) and '://' not in storage:
        return JournalStorage(JournalFileBackend(storage))
    return storage


def write_studies(exported: ExportedJob, storage, prefix: str = '') -> dict:
    added = {}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for sub_id, template in exported.templates.items():
        name = f'{prefix}{exported.name}-{template.model_name}'
        study = optuna.create_study(storage=storage, study_name=name, direction='maximize', load_if_exists=True)
        for key, value in {'singa_app': exported.job['app'], 'singa_app_version': exported.job['app_version'],
                           'singa_train_job_id': exported.job['id'], 'singa_sub_train_job_id': sub_id,
                           'singa_model_id': template.model_id, 'singa_model_name': template.model_name}.items():
            study.set_user_attr(key, value)
        space = SearchSpace(deserialize_knob_config(template.knob_config)) if template.knob_config else None
        done = {t.user_attrs.get(TRIAL_ID_ATTR) for t in study.get_trials(deepcopy=False)}
        new = [t for t in exported.trials_of(sub_id) if t['id'] not in done]
        for trial in new:
            study.add_trial(_frozen_trial(trial, space))
        added[name] = len(new)
    return added


def _frozen_trial(trial: dict, space: Optional[SearchSpace]) -> optuna.trial.FrozenTrial:
    fitted = space.to_optuna_params(trial['knobs']) if space is not None else None
    params, distributions = fitted if fitted is not None else ({}, {})
    state = STATES[trial['status']]
    if state == TrialState.COMPLETE and trial['score'] is None:
        state = TrialState.FAIL             # no value to record: Optuna wants one for a complete trial
    attrs = {TRIAL_ID_ATTR: trial['id'], 'singa_trial_no': trial['no'], 'knobs': json.dumps(trial['knobs']),
             'phase': trial['phase'], 'error': trial['error'], 'duration_seconds': trial['duration_seconds']}
    created = optuna.trial.create_trial(
        state=state, value=trial['score'] if state == TrialState.COMPLETE and trial['score'] is not None else None,
        params=params, distributions=distributions,
        intermediate_values={int(step): float(score) for step, score in trial['intermediate']},
        user_attrs={k: v for k, v in attrs.items() if v is not None})
    # create_trial stamps the times of now; the trial's own are what a dashboard should show (in local
    # time without a zone, as Optuna keeps its own).
    for attr, value in (('datetime_start', trial['started_at']), ('datetime_complete', trial['stopped_at'])):
        if value:
            setattr(created, attr, parse_time(value).astimezone().replace(tzinfo=None))
    return created
