"""Records to the JSON the API answers with (ids as strings, times as ISO 8601 with time zone)."""
from datetime import datetime
from typing import Optional

from singa.meta_store.records import DatasetRecord, ModelRecord, UserRecord


def iso(value: Optional[datetime]) -> Optional[str]:
    return value.isoformat() if value is not None else None


def user_json(user: UserRecord) -> dict:
    return {'id': str(user.id), 'email': user.email, 'user_type': user.user_type,
            'created_at': iso(user.created_at), 'banned_at': iso(user.banned_at)}


def dataset_json(dataset: DatasetRecord) -> dict:
    return {'id': str(dataset.id), 'name': dataset.name, 'task': dataset.task, 'size_bytes': dataset.size_bytes,
            'stat': dataset.stat, 'owner_id': str(dataset.owner_id), 'created_at': iso(dataset.created_at)}


def model_json(model: ModelRecord) -> dict:
    return {'id': str(model.id), 'name': model.name, 'task': model.task, 'model_class': model.model_class,
            'access_right': model.access_right, 'dependencies': model.dependencies,
            'docker_image': model.docker_image, 'model_description': model.description,
            'knob_config': model.knob_config, 'has_checkpoint': model.checkpoint_params_id is not None,
            'checkpoint_bytes': model.checkpoint_bytes, 'owner_id': str(model.owner_id),
            'created_at': iso(model.created_at), 'dependencies_env': model.env_key,
            'score_counts_examples': model.score_counts_examples}


def deleted_json(object_id) -> dict:
    return {'id': str(object_id), 'deleted': True}


def train_job_json(view) -> dict:
    job = view.job
    subs = [{'id': str(s['sub_job'].id), 'model_id': str(s['sub_job'].model_id), 'model_name': s['model_name'],
             'status': s['sub_job'].status, 'error': s['sub_job'].error, 'trials': s['trials'],
             'best_score': s['best_score']} for s in view.sub_jobs]
    scores = [s['best_score'] for s in subs if s['best_score'] is not None]
    return {'id': str(job.id), 'app': job.app, 'app_version': job.app_version, 'task': job.task,
            'status': job.status, 'error': job.error, 'budget': job.budget,
            'train_dataset_id': _str(job.train_dataset_id), 'val_dataset_id': _str(job.val_dataset_id),
            'train_args': job.train_args, 'advisor_config': job.advisor_config, 'owner_id': str(job.owner_id),
            'created_at': iso(job.created_at), 'started_at': iso(job.started_at),
            'deadline_at': iso(job.deadline_at), 'stopped_at': iso(job.stopped_at), 'resumed_at': iso(job.resumed_at),
            'trials_completed': sum(s['trials'].get('COMPLETED', 0) for s in subs),
            'trials_total': sum(sum(s['trials'].values()) for s in subs),
            'best_score': max(scores) if scores else None, 'sub_train_jobs': subs}


def enqueued_trial_json(view) -> dict:
    e = view.enqueued
    return {'id': str(e.id), 'train_job_id': str(view.train_job_id), 'sub_train_job_id': str(e.sub_train_job_id),
            'model_name': view.model_name, 'knobs': e.knobs, 'created_at': iso(e.created_at),
            'trial_id': _str(e.trial_id)}


def trial_json(view) -> dict:
    t = view.trial
    duration = (t.stopped_at - t.started_at).total_seconds() if t.stopped_at and t.started_at else None
    out = {'id': str(t.id), 'no': t.no, 'train_job_id': str(view.train_job_id),
            'sub_train_job_id': str(t.sub_train_job_id), 'model_id': str(t.model_id), 'model_name': view.model_name,
            'status': t.status, 'knobs': t.knobs, 'score': t.score, 'intermediate': t.intermediate,
            'phase': (t.proposal.get('meta') or {}).get('phase'), 'worker_id': t.worker_id, 'attempt': t.attempt,
            'retry_of': _str(t.retry_of), 'is_params_saved': t.params_id is not None, 'error': t.error,
            'started_at': iso(t.started_at), 'stopped_at': iso(t.stopped_at), 'duration_seconds': duration,
            'params_bytes': t.params_bytes, 'metrics': t.metrics}
    if view.rank_rule is not None:
        out.update(rank_rule=view.rank_rule, tied_with_best=view.tied_with_best)
    if view.with_values:
        out['values'] = t.values
    if view.feasible is not None:
        out['feasible'] = view.feasible
    return out


def pareto_json(front) -> dict:
    out = {'objectives': [o.to_dict() for o in front.objectives],
           'constraints': [c.to_dict() for c in front.constraints], 'trials': [trial_json(v) for v in front.trials]}
    if front.others is not None:
        out['others'] = [trial_json(v) for v in front.others]
    return out


def trial_logs_json(logs) -> dict:
    return {'plots': logs.plots, 'metrics': logs.metrics, 'messages': logs.messages, 'last_id': logs.last_id}


def service_log_json(log) -> dict:
    return {'name': log.name, 'service_id': str(log.service_id), 'service_type': log.service_type,
            'replica': log.replica, 'model_name': log.model_name, 'size': log.size, 'modified_at': iso(log.modified_at)}


def service_log_text_json(chunk) -> dict:
    return {'name': chunk.name, 'size': chunk.size, 'offset': chunk.offset, 'text': chunk.text,
            'next_offset': chunk.next_offset}


def importance_json(view) -> dict:
    result = view.result
    return {'sub_train_job_id': str(view.sub_train_job_id), 'model_id': str(view.model_id),
            'model_name': view.model_name, 'method': result.method, 'trials_used': result.trials_used,
            'importances': result.importances, 'not_assessed': result.not_assessed, 'note': result.note}


def _str(value) -> Optional[str]:
    return None if value is None else str(value)


def inference_job_json(view) -> dict:
    job = view.job
    return {'id': str(job.id), 'app': view.app, 'app_version': view.app_version,
            'train_job_id': str(job.train_job_id) if job.train_job_id else None,
            'model_id': str(job.model_id) if job.model_id else None, 'status': job.status, 'error': job.error,
            'predictor_url': view.predictor_url, 'is_public': job.is_public, 'description': job.description,
            'budget': job.budget, 'config': job.config, 'owner_id': str(job.owner_id),
            'created_at': iso(job.created_at), 'started_at': iso(job.started_at), 'stopped_at': iso(job.stopped_at),
            'workers': view.workers}


def prediction_key_json(key) -> dict:
    return {'id': str(key.id), 'name': key.name, 'created_at': iso(key.created_at), 'revoked_at': iso(key.revoked_at)}


def webhook_json(webhook) -> dict:
    return {'id': str(webhook.id), 'url': webhook.url, 'kinds': list(webhook.kinds), 'description': webhook.description,
            'owner_id': str(webhook.owner_id), 'created_at': iso(webhook.created_at)}


def delivery_json(found) -> dict:
    """A ``webhooks.Delivery``: the delivery with every attempt at it."""
    d = found.delivery
    return {'id': str(d.id), 'event_id': d.event_id, 'event_kind': d.event_kind, 'status': d.status,
            'attempts': d.attempts, 'next_attempt_at': iso(d.next_attempt_at) if d.status == 'PENDING' else None,
            'last_error': d.last_error, 'created_at': iso(d.created_at), 'finished_at': iso(d.finished_at),
            'log': [{'attempt': a.attempt, 'time': iso(a.time), 'status_code': a.status_code, 'error': a.error,
                     'duration_ms': round(a.duration_ms, 3)} for a in found.attempts]}


def quota_json(quota) -> dict:
    return {'user_id': str(quota.user_id), 'limits': quota.limits, 'custom': quota.custom, 'usage': quota.usage,
            'updated_at': iso(quota.updated_at), 'updated_by': _str(quota.updated_by)}
