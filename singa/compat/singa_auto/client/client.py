"""SingaAuto's ``Client``: our client with the original's signatures, defaults and answers.

What a script written for SingaAuto relies on, and this class keeps:

- the admin's address from ``SINGA_AUTO_ADDR`` and ``ADMIN_EXT_PORT`` (then ours,
  ``SINGA_ADMIN_HOST`` / ``SINGA_ADMIN_PORT``, then ``localhost:3000``);
- the positional order of ``create_dataset``, ``create_model`` (``model_preload_file_path`` 5th)
  and ``create_train_job`` (``budget`` 5th and required, ``annotation_dataset_id`` 6th);
  ``model_type`` ('py' or 'zip', checked against the file) and a zip's ``model_file_name`` given as
  a module name (``pkg.model``);
- budget defaults ``TIME_HOURS`` 0.1 and ``GPU_COUNT`` 0;
- the answers' field names besides ours: ``datetime_started`` / ``datetime_stopped`` (jobs and
  trials), ``datetime_created`` (datasets, models), ``user_id`` (models), ``banned_date`` (users),
  ``proposal`` with ``knobs`` (trials), ``predictor_host`` (inference jobs: ``host:port``, so
  ``http://{predictor_host}/predict`` is the predictor); ``download_model_file`` answers the model;
- inference jobs public by default: SingaAuto's predictors took queries from anyone, so its
  scripts send no prediction key (pass ``is_public=False`` to require one);
- ``send_event`` and the deprecated ``create_users``, ``get_models``, ``get_models_of_task``: they
  print a warning and do nothing (this platform's workers report through their job's channel);
- parameters and ``load_trial_model`` give templates back what their ``dump_parameters`` returned.

Errors are ours: a failed call raises the ``SingaError`` the admin answered with (SingaAuto
returned error dicts); ``SingaAutoConnectionError`` names that base class, so ``except`` clauses
written for it still catch. ``dataset_url`` has the admin download the dataset (within its limits
and networks); ``model_preload_file_path`` uploads trained parameters with the template (what
SingaAuto's ``.model`` and zip checkpoints become: the README's "Checkpoint inference jobs") and
``create_inference_job_by_checkpoint`` deploys them with no train job (its app is the template's
name; pass ``knobs=`` for a template whose knobs are not all fixed); ``models`` answer
``checkpoint_id``, set when there is a checkpoint. ``annotation_dataset_id`` is sent as SingaAuto
sent it and the admin says whether it takes it.
"""
import os
import sys
import zipfile
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

from singa.client import Client as _OurClient
from singa.errors import InvalidRequestError, SingaError

from ..constants import BudgetOption, InferenceBudgetOption, ModelAccessRight, ModelType
from ..model.model import unpack_params

SingaAutoConnectionError = SingaError


def _warn(message: str) -> None:
    print(f'WARNING: {message}', file=sys.stderr, flush=True)


def _deprecated(message: str):
    def no_op(self, *args, **kwargs):
        _warn(message)
    return no_op


def _dated(obj: dict, created: bool = False) -> dict:
    """``obj`` with SingaAuto's names for our times (and our other renamed fields) added."""
    if not isinstance(obj, dict):
        return obj
    out = dict(obj)
    if created:
        out.setdefault('datetime_created', obj.get('created_at'))
    else:
        out.setdefault('datetime_started', obj.get('started_at') or obj.get('created_at'))
        out.setdefault('datetime_stopped', obj.get('stopped_at'))
    if 'predictor_url' in obj:
        url = obj['predictor_url']
        out.setdefault('predictor_host', (urlsplit(url).netloc + urlsplit(url).path.rstrip('/')) if url else None)
    if 'knobs' in obj and 'no' in obj:
        out.setdefault('proposal', {'trial_no': obj['no'], 'knobs': obj['knobs']})
    if 'banned_at' in obj:
        out.setdefault('banned_date', obj['banned_at'])
    return out


def _each(items, created: bool = False):
    return [_dated(x, created) for x in items] if isinstance(items, list) else _dated(items, created)


class Client(_OurClient):
    def __init__(self, admin_host: Optional[str] = None, admin_port: Optional[int] = None, **options):
        super().__init__(admin_host or os.environ.get('SINGA_AUTO_ADDR'),
                         admin_port or os.environ.get('ADMIN_EXT_PORT'), **options)

    # Users ----------------------------------------------------------------------------------------

    def get_current_user(self) -> Optional[Dict[str, Any]]:
        return _dated(super().get_current_user(), created=True)

    def get_users(self) -> List[Dict[str, Any]]:
        return _each(super().get_users(), created=True)

    def ban_user(self, email: str) -> Dict[str, Any]:
        return _dated(super().ban_user(email), created=True)

    create_users = _deprecated('`create_users` has been removed')

    # Datasets -------------------------------------------------------------------------------------

    def create_dataset(self, name: str, task: str, dataset_path: str = None, dataset_url: str = None) -> dict:
        return _dated(super().create_dataset(name, task, dataset_path, dataset_url), created=True)

    def get_datasets(self, task: str = None) -> List[Dict[str, Any]]:
        return _each(super().get_datasets(task), created=True)

    # Models ---------------------------------------------------------------------------------------

    def create_model(self, name: str, task: str, model_file_path: str, model_class: str,
                     model_preload_file_path: str = None, dependencies: Dict[str, str] = None,
                     access_right: str = ModelAccessRight.PRIVATE, docker_image: str = None,
                     model_type: str = ModelType.PYTHON_FILE, model_file_name: str = None,
                     model_description: str = None) -> Dict[str, Any]:
        if model_type not in (ModelType.PYTHON_FILE, ModelType.ZIP_FILE):
            raise InvalidRequestError(f"model_type must be 'py' or 'zip'; got {model_type!r}", field='model_type')
        if (model_type == ModelType.ZIP_FILE) != zipfile.is_zipfile(model_file_path):
            raise InvalidRequestError(f'model_type is {model_type!r} but {model_file_path} is '
                                      f'{"not " if model_type == ModelType.ZIP_FILE else ""}a zip file',
                                      field='model_type')
        if model_type == ModelType.ZIP_FILE and model_file_name and not model_file_name.endswith('.py'):
            model_file_name = model_file_name.replace('.', '/') + '.py'
        return self._model(super().create_model(name, task, model_file_path, model_class, dependencies,
                                                access_right, docker_image, model_file_name, model_description,
                                                checkpoint_path=model_preload_file_path))

    def get_model(self, model_id: str) -> Dict[str, Any]:
        return self._model(super().get_model(model_id))

    def get_available_models(self, task: str = None) -> List[Dict[str, Any]]:
        return [self._model(m) for m in super().get_available_models(task)]

    def download_model_file(self, model_id: str, out_model_file_path: str) -> Dict[str, Any]:
        super().download_model_file(model_id, out_model_file_path)
        return self.get_model(model_id)

    get_models = _deprecated('`get_models` & `get_models_of_task` have been combined into `get_available_models`')
    get_models_of_task = get_models

    @staticmethod
    def _model(model: dict) -> dict:
        checkpoint = model.get('id') if model.get('has_checkpoint') else None     # SingaAuto's was an opaque id
        return dict(_dated(model, created=True), user_id=model.get('owner_id'), checkpoint_id=checkpoint)

    # Train jobs -----------------------------------------------------------------------------------

    def create_train_job(self, app: str, task: str, train_dataset_id: str, val_dataset_id: str,
                         budget: Dict[str, Any], annotation_dataset_id: str = None, models: List[str] = None,
                         train_args: Dict[str, Any] = None) -> Dict[str, Any]:
        budget = dict(budget or {})
        if budget.pop('ENABLE_GPU', None) is not None:
            _warn('The `ENABLE_GPU` option has been changed to `GPU_COUNT`')
        budget = {BudgetOption.TIME_HOURS: 0.1, BudgetOption.GPU_COUNT: 0, **budget}
        if annotation_dataset_id is None:
            return _dated(super().create_train_job(app, task, train_dataset_id, val_dataset_id, budget, models,
                                                   train_args))
        body = {'app': app, 'task': str(task), 'train_dataset_id': str(train_dataset_id),
                'val_dataset_id': str(val_dataset_id), 'annotation_dataset_id': str(annotation_dataset_id),
                'budget': budget, 'train_args': train_args or {}}
        if models is not None:
            body['model_ids'] = [str(m) for m in models]
        return _dated(self._request('POST', '/train_jobs', json=body))

    def get_train_jobs_by_user(self, user_id: str = None) -> List[Dict[str, Any]]:
        return _each(super().get_train_jobs_by_user(user_id))

    def get_train_jobs_of_app(self, app: str, **options) -> List[Dict[str, Any]]:
        return _each(super().get_train_jobs_of_app(app, **options))

    def get_train_job(self, app: str, app_version: int = -1, **options) -> Dict[str, Any]:
        return _dated(super().get_train_job(app, app_version, **options))

    def stop_train_job(self, app: str, app_version: int = -1, **options) -> Dict[str, Any]:
        return _dated(super().stop_train_job(app, app_version, **options))

    # Trials ---------------------------------------------------------------------------------------

    def get_trial(self, trial_id: str) -> Dict[str, Any]:
        return _dated(super().get_trial(trial_id))

    def get_best_trials_of_train_job(self, app: str, app_version: int = -1, max_count: int = 2,
                                     **options) -> List[Dict[str, Any]]:
        return _each(super().get_best_trials_of_train_job(app, app_version, max_count, **options))

    def get_trials_of_train_job(self, app: str, app_version: int = -1, **options) -> List[Dict[str, Any]]:
        return _each(super().get_trials_of_train_job(app, app_version, **options))

    def get_trial_parameters(self, trial_id: str) -> Dict[str, Any]:
        return unpack_params(super().get_trial_parameters(trial_id))

    # Inference jobs -------------------------------------------------------------------------------

    def create_inference_job(self, app: str, app_version: int = -1, budget: Dict[str, Any] = None,
                             description: str = None, is_public: bool = True, **options) -> Dict[str, Any]:
        budget = {InferenceBudgetOption.GPU_COUNT: 0, **(budget or {})}
        return _dated(super().create_inference_job(app, app_version, budget, description, is_public=is_public,
                                                   **options))

    def create_inference_job_by_checkpoint(self, model_name: str, budget: Dict[str, Any] = None,
                                           description: str = None, is_public: bool = True,
                                           **options) -> Dict[str, Any]:
        budget = {InferenceBudgetOption.GPU_COUNT: 0, **(budget or {})}
        return _dated(super().create_inference_job_by_checkpoint(model_name, budget, description, is_public=is_public,
                                                                 **options))

    def get_inference_jobs_by_user(self, user_id: str = None) -> List[Dict[str, Any]]:
        return _each(super().get_inference_jobs_by_user(user_id))

    def get_inference_jobs_of_app(self, app: str, **options) -> List[Dict[str, Any]]:
        return _each(super().get_inference_jobs_of_app(app, **options))

    def get_running_inference_job(self, app: str, app_version: int = -1, **options) -> Dict[str, Any]:
        return _dated(super().get_running_inference_job(app, app_version, **options))

    def stop_inference_job(self, app: str, app_version: int = -1, **options) -> Dict[str, Any]:
        return _dated(super().stop_inference_job(app, app_version, **options))

    # SingaAuto internal ---------------------------------------------------------------------------

    send_event = _deprecated('`send_event` was SingaAuto\'s internal worker-to-admin call; this platform\'s '
                             'workers report through their job\'s channel, so it does nothing here')


__all__ = ['Client', 'SingaAutoConnectionError']
