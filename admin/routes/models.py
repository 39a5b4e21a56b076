"""Model templates: upload, list available, get, download, delete."""
import io

from flask import Blueprint, jsonify, send_file

from singa.admin.context import admin_context
from singa.admin.openapi import operation
from singa.admin.routes.fields import Field, FormBody, Query, path_uuid
from singa.admin.routes.guards import TEMPLATE_MAKERS, current_user, require_user
from singa.admin.routes.idempotency import idempotent
from singa.admin.routes.serialize import deleted_json, model_json
from singa.admin.routes.uploads import limit_upload, saved_upload
from singa.admin.services import checkpoints, model_fields, models
from singa.admin.services.datasets import MAX_NAME_LENGTH, NAME_HINT, NAME_PATTERN
from singa.constants import ModelAccessRight, Task

bp = Blueprint('models', __name__)

CREATE_MODEL = FormBody(
    Field('name', str, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, hint=NAME_HINT),
    Field('task', Task),
    Field('model_class', str, max_length=255, pattern=model_fields.MODEL_CLASS_PATTERN, hint='a Python class name',
          description='The BaseModel subclass in the file'),
    Field('dependencies', str, required=False, max_length=model_fields.MAX_DEPENDENCIES_LENGTH, multiline=True,
          pattern=model_fields.DEPENDENCIES_PATTERN, hint=model_fields.DEPENDENCIES_HINT,
          description=f'{model_fields.DEPENDENCIES_HINT}; at most {model_fields.MAX_DEPENDENCIES}'),
    Field('docker_image', str, required=False, max_length=model_fields.MAX_IMAGE_LENGTH,
          pattern=model_fields.DOCKER_IMAGE_PATTERN, hint='a Docker image reference ("registry:5000/repo/name:tag")',
          description='The image its workers run in (default: the platform\'s worker image)'),
    Field('access_right', ModelAccessRight, required=False, default=ModelAccessRight.PRIVATE),
    Field('model_file_name', str, required=False, max_length=model_fields.MAX_MODULE_FILE_LENGTH,
          pattern=model_fields.MODULE_FILE_PATTERN, hint='a relative path of a .py file',
          description='For a zip: the module file inside it'),
    Field('model_description', str, required=False, max_length=model_fields.MAX_DESCRIPTION_LENGTH, multiline=True),
    files={models.FILE_FIELD: 'A .py file, or a .zip with model_file_name naming the module in it',
           checkpoints.FIELD: 'Trained parameters to deploy the template with, with no train job '
                              '(POST /inference_jobs/checkpoint): this platform\'s parameter file (what GET '
                              '/trials/{id}/parameters answers), a SingaAuto .model file, or any other file '
                              '(a .zip becomes the parameter zip_file_base64, anything else weight_base64)'},
    optional_files=(checkpoints.FIELD,))
LIST_MODELS = Query(Field('task', Task, required=False))


@bp.post('/models')
@operation('Upload a model template, with trained parameters if you will deploy it with no train job; it is '
           'checked in a sandboxed subprocess', body=CREATE_MODEL, response='Model', errors=(409, 413),
           description='400 (InvalidModelError) when the file does not import, lacks the class, the class is '
                       'not a BaseModel or its knob space is bad; 400 (InvalidParamsError) when the checkpoint '
                       'does not decode or holds values the parameter format does not store; 409 when you '
                       'already have a template of that name.')
@require_user(*TEMPLATE_MAKERS)
@idempotent
def create_model():
    ctx = admin_context()
    limit_upload(ctx.settings.max_model_bytes + ctx.settings.max_checkpoint_bytes)
    fields, parts = CREATE_MODEL.parse()
    new = models.NewModel(**fields)
    checkpoint = parts.get(checkpoints.FIELD)
    record = models.create_model(ctx.meta_store, ctx.settings, current_user(), new,
                                 saved_upload(parts[models.FILE_FIELD]), sandbox=ctx.model_sandbox,
                                 checkpoint=saved_upload(checkpoint) if checkpoint is not None else None)
    return jsonify(model_json(record))


@bp.get('/models/available')
@operation('Templates you may train with: yours and public ones (admins: all)', query=LIST_MODELS,
           response='Model', many=True)
@require_user()
def get_available_models():
    fields = LIST_MODELS.parse()
    records = models.list_available_models(admin_context().meta_store, current_user(), fields['task'])
    return jsonify([model_json(m) for m in records])


@bp.get('/models/<model_id>')
@operation('Get a model template', response='Model', errors=(404,))
@require_user()
def get_model(model_id: str):
    record = models.get_model(admin_context().meta_store, current_user(), path_uuid(model_id, 'model'))
    return jsonify(model_json(record))


@bp.get('/models/<model_id>/model_file')
@operation('Download a model template\'s file', binary=True, errors=(404,))
@require_user(*TEMPLATE_MAKERS)
def download_model_file(model_id: str):
    record = models.get_model(admin_context().meta_store, current_user(), path_uuid(model_id, 'model'),
                              with_file=True)
    download_name = record.file_name if record.file_kind == 'py' else f'{record.name}.zip'
    return send_file(io.BytesIO(record.file_bytes), mimetype='application/octet-stream', as_attachment=True,
                     download_name=download_name.rsplit('/', 1)[-1])


@bp.delete('/models/<model_id>')
@operation('Delete a model template (owner or admin)', response='Deleted', errors=(404, 409),
           description='409 while a live train or inference job uses it; templates that finished jobs used '
                       'are soft-deleted so their trials stay loadable.')
@require_user(*TEMPLATE_MAKERS)
@idempotent
def delete_model(model_id: str):
    ctx = admin_context()
    record = models.delete_model(ctx.meta_store, ctx.settings, current_user(), path_uuid(model_id, 'model'))
    return jsonify(deleted_json(record.id))
