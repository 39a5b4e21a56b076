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
            'knob_config': model.knob_config, 'owner_id': str(model.owner_id), 'created_at': iso(model.created_at)}


def deleted_json(object_id) -> dict:
    return {'id': str(object_id), 'deleted': True}
