"""The ``models`` table: model templates (the user's ML model code, not ORM models).

Soft-deleted templates (``deleted_at`` set) are hidden from every query here unless
``include_deleted=True``: workers still load them for the old trials that used them.
"""
import hashlib
import uuid
from typing import Optional

from psycopg2.extras import Json

from singa.constants import InferenceJobStatus, ModelAccessRight, TrainJobStatus
from singa.meta_store.records import ModelRecord, from_row, from_rows

# Every column but the file itself, which only the download and the workers need.
_META_COLUMNS = ('id, owner_id, name, task, model_class, file_kind, file_name, file_sha256, store_path, '
                 'dependencies, docker_image, access_right, description, knob_config, created_at, deleted_at, '
                 'checkpoint_params_id, checkpoint_bytes, env_key, score_counts_examples')


def insert_model(cur, *, model_id: uuid.UUID, owner_id: uuid.UUID, name: str, task: str,
                 model_class: str, file_kind: str, file_name: str, file_bytes: bytes, store_path: str,
                 dependencies: list, docker_image: Optional[str], access_right: str, description: str,
                 knob_config, checkpoint_params_id: Optional[str] = None, checkpoint_bytes: int = 0,
                 env_key: Optional[str] = None, score_counts_examples: bool = True) -> ModelRecord:
    """Insert a template; a live template of the same owner and name raises ``ConflictError``."""
    cur.execute(
        'INSERT INTO models (id, owner_id, name, task, model_class, file_kind, file_name, file_bytes, '
        'file_sha256, store_path, dependencies, docker_image, access_right, description, knob_config, '
        'checkpoint_params_id, checkpoint_bytes, env_key, score_counts_examples) '
        'VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) '
        f'RETURNING {_META_COLUMNS}',
        (model_id, owner_id, name, task, model_class, file_kind, file_name, file_bytes,
         hashlib.sha256(file_bytes).hexdigest(), store_path,
         Json(dependencies), docker_image, access_right, description, Json(knob_config),
         checkpoint_params_id, checkpoint_bytes, env_key, score_counts_examples))
    return from_row(ModelRecord, cur.fetchone())


def get_model(cur, model_id: uuid.UUID, *, with_file: bool = False, include_deleted: bool = False,
              for_update: bool = False) -> Optional[ModelRecord]:
    columns = _META_COLUMNS + (', file_bytes' if with_file else '')
    cur.execute(f'SELECT {columns} FROM models WHERE id = %s'
                + ('' if include_deleted else ' AND deleted_at IS NULL')
                + (' FOR UPDATE' if for_update else ''), (model_id,))
    row = cur.fetchone()
    if row is not None and row.get('file_bytes') is not None:
        row = dict(row, file_bytes=bytes(row['file_bytes']))
    return from_row(ModelRecord, row)


def get_model_by_name(cur, owner_id: uuid.UUID, name: str) -> Optional[ModelRecord]:
    """The owner's live template of that name."""
    cur.execute(f'SELECT {_META_COLUMNS} FROM models WHERE owner_id = %s AND name = %s AND deleted_at IS NULL',
                (owner_id, name))
    return from_row(ModelRecord, cur.fetchone())


def name_taken(cur, owner_id: uuid.UUID, name: str) -> bool:
    cur.execute('SELECT 1 FROM models WHERE owner_id = %s AND name = %s AND deleted_at IS NULL',
                (owner_id, name))
    return cur.fetchone() is not None


def list_available_models(cur, *, user_id: Optional[uuid.UUID], task: Optional[str] = None) -> list[ModelRecord]:
    """Live templates the user may use: their own plus public ones; every one when ``user_id`` is None."""
    cur.execute(f'SELECT {_META_COLUMNS} FROM models WHERE deleted_at IS NULL '
                'AND (%s::uuid IS NULL OR owner_id = %s OR access_right = %s) '
                'AND (%s::text IS NULL OR task = %s) ORDER BY created_at, name',
                (user_id, user_id, ModelAccessRight.PUBLIC.value, task, task))
    return from_rows(ModelRecord, cur.fetchall())


def model_usage(cur, model_id: uuid.UUID) -> dict:
    """How jobs use a template: ``{"live_train_jobs": [...], "live_inference_jobs": [...], "referenced": bool}``.

    ``referenced`` is true when any sub-train job or checkpoint inference job (finished or not) used
    it, so that deleting the row would orphan their records.
    """
    cur.execute('SELECT DISTINCT train_job_id FROM sub_train_jobs WHERE model_id = %s AND status = ANY(%s)',
                (model_id, list(TrainJobStatus.LIVE)))
    live_train = [row['train_job_id'] for row in cur.fetchall()]
    cur.execute('SELECT DISTINCT i.id FROM inference_jobs i LEFT JOIN sub_train_jobs s '
                'ON s.train_job_id = i.train_job_id WHERE %s IN (s.model_id, i.model_id) AND i.status = ANY(%s)',
                (model_id, list(InferenceJobStatus.LIVE)))
    live_inference = [row['id'] for row in cur.fetchall()]
    cur.execute('SELECT EXISTS (SELECT 1 FROM sub_train_jobs WHERE model_id = %(m)s)'
                ' OR EXISTS (SELECT 1 FROM inference_jobs WHERE model_id = %(m)s) AS used', {'m': model_id})
    return {'live_train_jobs': live_train, 'live_inference_jobs': live_inference,
            'referenced': cur.fetchone()['used']}


def soft_delete_model(cur, model_id: uuid.UUID) -> None:
    cur.execute('UPDATE models SET deleted_at = now() WHERE id = %s AND deleted_at IS NULL', (model_id,))


def delete_model(cur, model_id: uuid.UUID) -> None:
    cur.execute('DELETE FROM models WHERE id = %s', (model_id,))
