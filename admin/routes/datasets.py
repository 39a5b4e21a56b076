"""Datasets: upload, list, get, delete (every role; each user sees their own)."""
import uuid

from flask import Blueprint, jsonify

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, FormBody, Query, path_uuid
from singa.admin.routes.guards import current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import dataset_json, deleted_json
from singa.admin.routes.uploads import limit_upload, saved_upload
from singa.admin.services import datasets
from singa.admin.services.datasets import MAX_NAME_LENGTH, NAME_HINT, NAME_PATTERN
from singa.admin.services.outbound_http import MAX_URL_LENGTH, URL_PATTERN
from singa.constants import Task
from singa.tasks import get_task

bp = Blueprint('datasets', __name__)

CREATE_DATASET = FormBody(
    Field('name', str, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, hint=NAME_HINT), Field('task', Task),
    Field('dataset_url', str, required=False, max_length=MAX_URL_LENGTH, pattern=URL_PATTERN,
          hint='an http:// or https:// URL', description='Instead of the file: where the admin downloads it from '
          '(within the dataset size limit and SINGA_DATASET_URL_TIMEOUT_SECONDS; only to the networks '
          'SINGA_DATASET_URL_NETWORKS allows, by default public addresses)'),
    files={'dataset': '; '.join(f'{t}: {get_task(t).dataset_format}' for t in Task) + '; send it or dataset_url'},
    optional_files=('dataset',), one_of=('dataset', 'dataset_url'))
LIST_DATASETS = Query(Field('task', Task, required=False),
                      Field('owner_id', uuid.UUID, required=False, description='Admins only: another owner'))


@bp.post('/datasets')
@operation('Upload a dataset, or have the admin download it (dataset_url); it is checked against the task\'s '
           'format', body=CREATE_DATASET, response='Dataset', errors=(403, 413, 503),
           description='400 (InvalidDatasetError) says what does not match the format; 413 over the size limit. '
                       'With dataset_url: 400 when it cannot be downloaded (not http(s), unreachable, an answer '
                       'other than 200, slower than the time limit), 403 when it points outside the networks '
                       'SINGA_DATASET_URL_NETWORKS allows, 503 while this admin process runs as many downloads '
                       'as it may.')
@require_user()
@idempotent
def create_dataset():
    ctx = admin_context()
    limit_upload(ctx.settings.max_dataset_bytes)
    fields, parts = CREATE_DATASET.parse()
    if 'dataset' in parts:
        record = datasets.create_dataset(ctx.meta_store, ctx.settings, current_user(), fields['name'],
                                         fields['task'], saved_upload(parts['dataset']))
    else:
        record = datasets.create_dataset_from_url(ctx.meta_store, ctx.settings, current_user(), fields['name'],
                                                  fields['task'], fields['dataset_url'], ctx.dataset_downloads)
    return jsonify(dataset_json(record))


@bp.get('/datasets')
@operation('List your datasets', query=LIST_DATASETS, response='Dataset', many=True)
@require_user()
def list_datasets():
    fields = LIST_DATASETS.parse()
    records = datasets.list_datasets(admin_context().meta_store, current_user(), fields['task'], fields['owner_id'])
    return jsonify([dataset_json(d) for d in records])


@bp.get('/datasets/<dataset_id>')
@operation('Get a dataset', response='Dataset', errors=(404,))
@require_user()
def get_dataset(dataset_id: str):
    record = datasets.get_dataset(admin_context().meta_store, current_user(), path_uuid(dataset_id, 'dataset'))
    return jsonify(dataset_json(record))


@bp.delete('/datasets/<dataset_id>')
@operation('Delete a dataset and its file', response='Deleted', errors=(404, 409),
           description='409 while a live train job uses it.')
@require_user()
@idempotent
def delete_dataset(dataset_id: str):
    ctx = admin_context()
    record = datasets.delete_dataset(ctx.meta_store, ctx.settings, current_user(), path_uuid(dataset_id, 'dataset'))
    return jsonify(deleted_json(record.id))
