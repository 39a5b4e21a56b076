"""Model templates: upload (checked without importing it here), list, get, download, delete.

Visibility: the owner and admins see a template, everyone sees PUBLIC ones; a template the caller
may not see is "not found". Declared dependencies the platform lacks are installed at upload into
an environment on shared storage (``singa.envs.prepare_env``). The file is checked by
``singa.model.inspect.check_model_template``, which imports it in a sandbox (a short-lived
subprocess with a scrubbed environment, or a locked-down throwaway container), with that
environment, with a time limit and returns the knob space as JSON. The bytes are kept in the row
and copied to ``models/<id>/template.<py|zip>`` on shared storage for the workers. A template may
come with trained parameters, its checkpoint (``checkpoints``), kept in the parameter store for
inference jobs deployed with no train job.
"""
import io
import os
import shutil
import threading
import uuid
import zipfile
from dataclasses import dataclass
from typing import Optional

from singa.admin.services import checkpoints, code_policy, files, model_fields, quotas
from singa.archives import open_zip, safe_members
from singa.admin.services.datasets import check_name
from singa.config import Settings
from singa.constants import ADMIN_TYPES, ModelAccessRight, Task
from singa.envs import prepare_env
from singa.errors import (ConflictError, ForbiddenError, InvalidModelError, NotFoundError, PayloadTooLargeError,
                          ServiceUnavailableError)
from singa.meta_store import events
from singa.meta_store import models as models_repo
from singa.meta_store.db import MetaStore
from singa.meta_store.records import ModelRecord, UserRecord
from singa.model.inspect import default_check_sandbox, inspect_model_template
from singa.param_store import make_param_store

FILE_FIELD = 'model_file_bytes'
# Template checks an admin process runs at once (each holds a request thread up to the check's
# time limit): more wait briefly, then get a 503, so uploads can never take every thread.
MAX_CONCURRENT_CHECKS = 2
CHECK_QUEUE_SECONDS = 1.0
_CHECKS = threading.BoundedSemaphore(MAX_CONCURRENT_CHECKS)


@dataclass(frozen=True)
class NewModel:
    """The fields of a template upload, as the route parsed them (text fields not yet validated)."""
    name: str
    task: Task
    model_class: str
    access_right: ModelAccessRight = ModelAccessRight.PRIVATE
    dependencies: Optional[str] = None          # JSON text
    docker_image: Optional[str] = None
    model_file_name: Optional[str] = None       # the module inside a zip
    model_description: Optional[str] = None


def create_model(store: MetaStore, settings: Settings, owner: UserRecord, new: NewModel,
                 upload: files.UploadedFile, sandbox=None,
                 checkpoint: Optional[files.UploadedFile] = None) -> ModelRecord:
    """Validate every field and the ``checkpoint`` if there is one, install the dependencies it
    declares that the platform lacks into their environment (``singa.envs``; shared by every
    template that declares the same), check the template in ``sandbox`` with that environment (see
    ``singa.model.inspect``; a container of the template's own image if it names one), then store
    and record it."""
    try:
        if upload.size > settings.max_model_bytes:
            raise PayloadTooLargeError(f'the model file is {upload.size} bytes; the limit is '
                                       f'{settings.max_model_bytes}', field=FILE_FIELD)
        with open(upload.path, 'rb') as f:
            file_bytes = f.read()
    finally:
        files.remove_quietly(upload.path)
    params = checkpoints.read_checkpoint(settings, checkpoint) if checkpoint is not None else None
    code_policy.check_actor(settings, owner.user_type)
    name = check_name(new.name)
    model_class = model_fields.check_model_class(new.model_class)
    dependencies = model_fields.parse_dependencies(new.dependencies)
    docker_image = model_fields.check_docker_image(new.docker_image)
    description = model_fields.check_description(new.model_description)
    file_kind, file_name = _file_kind_and_name(file_bytes, new.model_file_name, upload.file_name)
    with store.transaction() as cur:
        if models_repo.name_taken(cur, owner.id, name):
            raise _name_conflict(name)
    sandbox = sandbox or default_check_sandbox()
    env = prepare_env(settings, dependencies, sandbox, image=docker_image)
    if not _CHECKS.acquire(timeout=CHECK_QUEUE_SECONDS):
        raise ServiceUnavailableError(f'{MAX_CONCURRENT_CHECKS} template checks are already running in this admin '
                                      'process; try again in a few seconds', resource='model')
    try:
        checked = inspect_model_template(file_bytes, model_class, file_kind=file_kind,
                                         module_file=file_name if file_kind == 'zip' else None,
                                         timeout=settings.model_check_timeout,
                                         memory_mb=settings.model_check_memory_mb, sandbox=sandbox,
                                         image=docker_image, env=env)
    finally:
        _CHECKS.release()
    model_id = uuid.uuid4()
    relative = f'{files.MODELS_DIR}/{model_id}/template.{file_kind}'
    params_id = None
    try:
        files.write_atomically(files.storage_path(settings, relative), file_bytes)
        if params is not None:
            params_id = make_param_store(settings).save_encoded(params)
        with store.transaction() as cur:
            quotas.check(cur, settings, owner, stored_bytes=len(file_bytes) + len(params or b''))
            record = models_repo.insert_model(
                cur, model_id=model_id, owner_id=owner.id, name=name, task=new.task.value, model_class=model_class,
                file_kind=file_kind, file_name=file_name, file_bytes=file_bytes, store_path=relative,
                dependencies=dependencies, docker_image=docker_image, access_right=new.access_right.value,
                description=description, knob_config=checked.knob_config, checkpoint_params_id=params_id,
                checkpoint_bytes=len(params or b''), env_key=env.key if env else None,
                score_counts_examples=checked.score_counts_examples)
            events.record_event(cur, events.MODEL_CREATED, subject_id=model_id, actor_id=owner.id,
                                data={'owner_id': str(owner.id), 'name': name, 'task': new.task.value,
                                      'checkpoint': params_id is not None})
    except ConflictError:
        _remove_model_files(settings, model_id, params_id)
        raise _name_conflict(name) from None
    except BaseException:
        _remove_model_files(settings, model_id, params_id)
        raise
    return record


def _file_kind_and_name(file_bytes: bytes, model_file_name: Optional[str], uploaded_name: str) -> tuple[str, str]:
    if not file_bytes:
        raise InvalidModelError('the model file is empty', field=FILE_FIELD)
    if not zipfile.is_zipfile(io.BytesIO(file_bytes)):
        base = os.path.basename(uploaded_name or '')
        return 'py', base if base.endswith('.py') and base.isprintable() else 'model.py'
    if not model_file_name:
        raise InvalidModelError('the model file is a zip: name the module file inside it in model_file_name',
                                field='model_file_name')
    module_file = model_fields.check_module_file_name(model_file_name)
    with open_zip(io.BytesIO(file_bytes), InvalidModelError, FILE_FIELD) as zf:
        names = {info.filename for info in safe_members(zf, InvalidModelError, FILE_FIELD)}
    if module_file not in names:
        raise InvalidModelError(f'the zip has no file {module_file!r}', field='model_file_name')
    return 'zip', module_file


def _name_conflict(name: str) -> ConflictError:
    return ConflictError(f'you already have a model template named {name!r}', resource='model', field='name')


def list_available_models(store: MetaStore, actor: UserRecord, task: Optional[Task] = None) -> list[ModelRecord]:
    """Templates the caller may train with: their own and PUBLIC ones; every template for admins."""
    user_id = None if actor.user_type in ADMIN_TYPES else actor.id
    with store.transaction() as cur:
        return models_repo.list_available_models(cur, user_id=user_id, task=task.value if task else None)


def get_model(store: MetaStore, actor: UserRecord, model_id: uuid.UUID, with_file: bool = False) -> ModelRecord:
    with store.transaction() as cur:
        return _visible(cur, actor, model_id, with_file=with_file)


def delete_model(store: MetaStore, settings: Settings, actor: UserRecord, model_id: uuid.UUID) -> ModelRecord:
    """Delete a template (owner or admin). 409 while a live train or inference job uses it; a template
    only finished jobs used is soft-deleted, so their trials stay loadable."""
    with store.transaction() as cur:
        model = _visible(cur, actor, model_id, for_update=True)
        if model.owner_id != actor.id and actor.user_type not in ADMIN_TYPES:
            raise ForbiddenError('only the owner or an admin may delete a model template',
                                 resource='model', id=model_id)
        usage = models_repo.model_usage(cur, model_id)
        if usage['live_train_jobs'] or usage['live_inference_jobs']:
            raise ConflictError('the model template is used by a live train or inference job; stop it first',
                                resource='model', id=model_id, details={
                                    'train_job_ids': [str(i) for i in usage['live_train_jobs']],
                                    'inference_job_ids': [str(i) for i in usage['live_inference_jobs']]})
        if usage['referenced']:
            models_repo.soft_delete_model(cur, model_id)
        else:
            models_repo.delete_model(cur, model_id)
        events.record_event(cur, events.MODEL_DELETED, subject_id=model_id, owner_id=model.owner_id,
                            data={'by': str(actor.id), 'name': model.name, 'soft': usage['referenced']})
    _remove_model_files(settings, model_id if not usage['referenced'] else None, model.checkpoint_params_id)
    return model


def _visible(cur, actor: UserRecord, model_id: uuid.UUID, **kwargs) -> ModelRecord:
    model = models_repo.get_model(cur, model_id, **kwargs)
    if model is None or not (model.owner_id == actor.id or actor.user_type in ADMIN_TYPES
                             or model.access_right == ModelAccessRight.PUBLIC):
        raise NotFoundError('no such model template', resource='model', id=model_id)
    return model


def _remove_model_files(settings: Settings, model_id: Optional[uuid.UUID], params_id: Optional[str]) -> None:
    """Remove a template's folder (unless ``model_id`` is None: old trials still load it) and its checkpoint
    (no job deploys a deleted template's checkpoint again)."""
    if model_id is not None:
        shutil.rmtree(files.storage_path(settings, f'{files.MODELS_DIR}/{model_id}'), ignore_errors=True)
    if params_id is not None:
        make_param_store(settings).delete(params_id)
