"""The Python client of the SingaAuto admin, with SingaAuto's method names.

    from singa.client import Client
    client = Client(admin_host='localhost', admin_port=3000)
    client.login('superadmin@singaauto', password)
    client.create_dataset('train', 'TABULAR_CLASSIFICATION', 'train.csv')

Every failed call raises the ``SingaError`` subclass the admin raised (``NotFoundError``,
``InvalidDatasetError``, ...), rebuilt from the JSON error envelope, with the HTTP status in
``status_code``; an admin that cannot be reached raises ``ServiceUnavailableError``. A request
whose connection broke or that was answered 502/503/504 is sent again with backoff, within bounds
(``RetryPolicy``, ``singa.client.retry``); every request that changes something carries an
``Idempotency-Key`` (a fresh UUID per call, the same on its retries), so a retry never acts twice.
Uploads are streamed from disk. The client depends only on ``requests`` and on
``singa.constants`` and ``singa.errors`` of the core.
"""
import json
import os
import time
import urllib.parse
import uuid
from typing import Any, Callable, Optional, Union

import requests

from singa.client.multipart import MultipartStream
from singa.client.retry import RetryPolicy
from singa.constants import InferenceJobStatus, ModelAccessRight, TrainJobStatus
from singa.errors import InvalidRequestError, ServiceUnavailableError, SingaError, UnauthenticatedError

DEFAULT_HOST = 'localhost'
DEFAULT_PORT = 3000
IDEMPOTENCY_HEADER = 'Idempotency-Key'
SAFE_METHODS = frozenset({'GET', 'HEAD', 'OPTIONS'})


class Client:
    def __init__(self, admin_host: Optional[str] = None, admin_port: Optional[int] = None, scheme: str = 'http',
                 timeout: float = 60, retry: Optional[RetryPolicy] = None, token: Optional[str] = None):
        """Talk to the admin at ``scheme://admin_host:admin_port``.

        When ``admin_host`` or ``admin_port`` is not given, the environment variables
        ``SINGA_ADMIN_HOST`` and ``SINGA_ADMIN_PORT`` are used if set, else ``localhost:3000``.
        ``timeout`` (seconds) bounds each wait for the admin, not a whole upload. ``retry`` says how
        often and how long to try a request again (default ``RetryPolicy()``: 10 tries within 30 s;
        ``RetryPolicy(attempts=1)`` never retries). ``token``: one ``login`` gave earlier (the ``token``
        property), to go on without logging in again.
        """
        host = admin_host or os.environ.get('SINGA_ADMIN_HOST') or DEFAULT_HOST
        if host in ('0.0.0.0', '::'):        # a bind-everything address: the admin is local
            host = DEFAULT_HOST
        port = int(admin_port or os.environ.get('SINGA_ADMIN_PORT') or DEFAULT_PORT)
        self.base_url = f'{scheme}://{host}:{port}'
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._token: Optional[str] = token
        self._user: Optional[dict] = None
        self._session = requests.Session()

    @property
    def token(self) -> Optional[str]:
        """The login token the client sends, or None when not logged in."""
        return self._token

    # Users ----------------------------------------------------------------------------------------

    def login(self, email: str, password: str) -> dict:
        """Log in and keep the token for later calls; returns ``{id, user_type, expires_at}``."""
        body = self._request('POST', '/tokens', json={'email': email, 'password': password}, auth=False)
        self._token = body['token']
        self._user = {'id': body['user_id'], 'user_type': body['user_type'], 'expires_at': body['expires_at']}
        return dict(self._user)

    def logout(self, everywhere: bool = False) -> None:
        """Log out: the admin revokes the token (with ``everywhere``, every token you were given so
        far: your other sessions end too), and the client forgets it. The client forgets it in any
        case; an admin that could not be reached raises ``ServiceUnavailableError`` (the token then
        works until it expires)."""
        try:
            if self._token is not None:
                self._request('DELETE', '/tokens' if everywhere else '/tokens/current')
        except UnauthenticatedError:
            pass                    # it no longer works: revoked, expired, or the user is banned
        finally:
            self._token = None
            self._user = None

    def get_current_user(self) -> Optional[dict]:
        """The logged-in user as the admin sees them now, or None when not logged in."""
        if self._token is None:
            return None
        return self._request('GET', '/users/me')

    def create_user(self, email: str, password: str, user_type: str) -> dict:
        return self._request('POST', '/users', json={'email': email, 'password': password,
                                                     'user_type': str(user_type)})

    def get_users(self) -> list[dict]:
        return self._request('GET', '/users')

    def ban_user(self, email: str) -> dict:
        """Ban a user; their tokens stop working at once and their inference jobs stop answering
        (private ones refuse their prediction keys, public ones are stopped)."""
        return self._request('DELETE', '/users', json={'email': email})

    def unban_user(self, email: str) -> dict:
        """Lift a ban: the user may log in again; their live inference jobs take their keys again."""
        return self._request('POST', '/users/unban', json={'email': email})

    def change_password(self, old_password: str, new_password: str) -> dict:
        """Change your own password; your tokens keep working (``logout(everywhere=True)`` ends the
        other sessions)."""
        return self._request('POST', '/users/me/password', json={'old_password': old_password,
                                                                'new_password': new_password})

    def reset_password(self, email: str, new_password: str) -> dict:
        """Admins: set another user's password; their tokens stop working."""
        return self._request('POST', '/users/password', json={'email': email, 'password': new_password})

    # Datasets -------------------------------------------------------------------------------------

    def create_dataset(self, name: str, task: str, dataset_path: Optional[str] = None,
                       dataset_url: Optional[str] = None) -> dict:
        """Upload the file at ``dataset_path`` (streamed) as a dataset for ``task``, or have the admin
        download it from ``dataset_url`` (an http(s) URL it may reach; within its size and time limits)."""
        if (dataset_path is None) == (dataset_url is None):
            raise InvalidRequestError('give the dataset file as dataset_path or its URL as dataset_url (one of them)',
                                      field='dataset_path')
        body = MultipartStream({'name': name, 'task': str(task), 'dataset_url': dataset_url},
                               {'dataset': dataset_path} if dataset_path is not None else {})
        return self._request('POST', '/datasets', data=body, headers={'Content-Type': body.content_type})

    def get_datasets(self, task: Optional[str] = None) -> list[dict]:
        return self._request('GET', '/datasets', params=_params(task=task))

    def get_dataset(self, dataset_id: str) -> dict:
        return self._request('GET', f'/datasets/{dataset_id}')

    def delete_dataset(self, dataset_id: str) -> dict:
        return self._request('DELETE', f'/datasets/{dataset_id}')

    # Model templates ------------------------------------------------------------------------------

    def create_model(self, name: str, task: str, model_file_path: str, model_class: str,
                     dependencies: Optional[Union[list, dict]] = None,
                     access_right: str = ModelAccessRight.PRIVATE.value, docker_image: Optional[str] = None,
                     model_file_name: Optional[str] = None, model_description: Optional[str] = None,
                     checkpoint_path: Optional[str] = None) -> dict:
        """Upload a model template: a ``.py`` file, or a ``.zip`` with ``model_file_name`` naming the module
        in it. ``dependencies``: a list of requirement strings or a ``{name: version}`` dict.
        ``checkpoint_path``: trained parameters to deploy it with, with no train job
        (``create_inference_job_by_checkpoint``): a parameter file as ``download_trial_parameters`` saves
        it, a SingaAuto ``.model`` file, or any other file (see the README, "Checkpoint inference jobs")."""
        fields = {'name': name, 'task': str(task), 'model_class': model_class,
                  'dependencies': json.dumps(dependencies) if dependencies is not None else None,
                  'access_right': str(access_right), 'docker_image': docker_image,
                  'model_file_name': model_file_name, 'model_description': model_description}
        parts = {'model_file_bytes': model_file_path}
        if checkpoint_path is not None:
            parts['checkpoint_id'] = checkpoint_path
        body = MultipartStream(fields, parts)
        return self._request('POST', '/models', data=body, headers={'Content-Type': body.content_type})

    def get_available_models(self, task: Optional[str] = None) -> list[dict]:
        """Templates you may train with: yours and public ones."""
        return self._request('GET', '/models/available', params=_params(task=task))

    def get_model(self, model_id: str) -> dict:
        return self._request('GET', f'/models/{model_id}')

    def download_model_file(self, model_id: str, out_model_file_path: str) -> str:
        """Save the template's file to ``out_model_file_path`` (written whole or not at all); return the path."""
        return self._download(f'/models/{model_id}/model_file', out_model_file_path)

    def delete_model(self, model_id: str) -> dict:
        return self._request('DELETE', f'/models/{model_id}')

    # Plumbing -------------------------------------------------------------------------------------

    # -- train jobs ------------------------------------------------------------------------------

    def create_train_job(self, app: str, task: str, train_dataset_id: str, val_dataset_id: str,
                         budget: Optional[dict] = None, models: Optional[list] = None,
                         train_args: Optional[dict] = None, advisor: Optional[str] = None,
                         pruner: Optional[str] = None, max_trial_retries: Optional[int] = None,
                         seed: Optional[int] = None, allow_repeats: Optional[bool] = None,
                         warm_start_from: Optional[tuple] = None, objectives: Optional[list] = None,
                         constraints: Optional[list] = None) -> dict:
        """Tune ``models`` (template ids; default every template available for ``task``) within ``budget``
        (``TIME_HOURS``, ``MODEL_TRIAL_COUNT``, ``GPU_COUNT``, ``WORKERS_PER_MODEL``). ``allow_repeats``: let
        the advisor propose a knob set twice (by default a finite space is searched without repeats).
        ``warm_start_from``: ``(app, app_version)`` of an earlier job of yours whose completed trials start
        the search of each template both jobs tune. ``objectives``: ``[{"name": metric, "direction":
        "maximize" or "minimize"}]`` (default: score, maximized; several: a multi-objective search);
        ``constraints``: ``[{"name": metric, "min": x, "max": y}]``."""
        body = {'app': app, 'task': str(task), 'train_dataset_id': str(train_dataset_id),
                'val_dataset_id': str(val_dataset_id), 'budget': budget or {}, 'train_args': train_args or {}}
        optional = {'model_ids': [str(m) for m in models] if models is not None else None, 'advisor': advisor,
                    'pruner': pruner, 'max_trial_retries': max_trial_retries, 'seed': seed,
                    'allow_repeats': allow_repeats, 'objectives': objectives, 'constraints': constraints,
                    'warm_start_from': {'app': warm_start_from[0], 'app_version': int(warm_start_from[1])}
                    if warm_start_from is not None else None}
        body.update({k: (str(v) if k in ('advisor', 'pruner') else v) for k, v in optional.items() if v is not None})
        return self._request('POST', '/train_jobs', json=body)

    def get_train_jobs_by_user(self, user_id: Optional[str] = None) -> list[dict]:
        """Your train jobs; an admin may name another user."""
        return self._request('GET', '/train_jobs', params=_params(user_id=user_id))

    # ``user_id`` (admins only) names a job of another user; by default the job is the caller's.

    def get_train_jobs_of_app(self, app: str, user_id: Optional[str] = None) -> list[dict]:
        return self._request('GET', f'/train_jobs/{_quote(app)}', params=_params(user_id=user_id))

    def get_train_job(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> dict:
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}', params=_params(user_id=user_id))

    def stop_train_job(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> dict:
        return self._request('POST', f'/train_jobs/{_quote(app)}/{int(app_version)}/stop',
                             params=_params(user_id=user_id))

    def resume_train_job(self, app: str, app_version: int = -1, budget: Optional[dict] = None,
                         user_id: Optional[str] = None) -> dict:
        """Run an ended (STOPPED or ERRORED) job again with ``budget`` as the same study: its trials are
        kept and new ones are numbered after them; TIME_HOURS counts from now, MODEL_TRIAL_COUNT counts
        the new trials."""
        return self._request('POST', f'/train_jobs/{_quote(app)}/{int(app_version)}/resume',
                             params=_params(user_id=user_id), json={'budget': budget or {}})

    def update_train_job_budget(self, app: str, app_version: int = -1, budget: Optional[dict] = None,
                                user_id: Optional[str] = None) -> dict:
        """Raise or lower a live job's ``TIME_HOURS`` and ``MODEL_TRIAL_COUNT``; below what it has spent,
        the job ends like a stop."""
        return self._request('PATCH', f'/train_jobs/{_quote(app)}/{int(app_version)}',
                             params=_params(user_id=user_id), json={'budget': budget or {}})

    def enqueue_trial(self, app: str, model: str, knobs: dict, app_version: int = -1,
                      user_id: Optional[str] = None) -> dict:
        """Queue a trial of template ``model`` (its name) with ``knobs`` on a live job; it runs before the
        advisor's own proposals."""
        return self._request('POST', f'/train_jobs/{_quote(app)}/{int(app_version)}/trials',
                             params=_params(user_id=user_id), json={'model': model, 'knobs': knobs})

    def wait_until_train_job_has_stopped(self, app: str, app_version: int = -1, timeout: Optional[float] = None,
                                         interval: float = 2.0, progress: bool = True,
                                         on_update: Optional[Callable[[dict], None]] = None) -> dict:
        """Poll until the job is STOPPED or ERRORED (or ``timeout`` s pass: ``TimeoutError``), printing
        the trials done and the best score so far when ``progress``. ``on_update``, if given, is called
        with the job after every poll instead (the ``singa`` command draws its progress display so)."""
        started = time.monotonic()
        last = None
        while True:
            job = self.get_train_job(app, app_version)
            if on_update is not None:
                on_update(job)
            elif progress:
                line = (f'{job["app"]} v{job["app_version"]} {job["status"]}: {job["trials_completed"]}/'
                        f'{job["trials_total"]} trials completed, best score '
                        + ('-' if job['best_score'] is None else f'{job["best_score"]:.4f}'))
                if line != last:
                    print(f'[{time.monotonic() - started:6.0f}s] {line}', flush=True)
                    last = line
            if job['status'] in TrainJobStatus.FINISHED:
                return job
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f'train job {app} v{job["app_version"]} still {job["status"]} after {timeout} s')
            time.sleep(interval)

    def get_trials_of_train_job(self, app: str, app_version: int = -1, limit: int = 1000,
                                offset: int = 0, user_id: Optional[str] = None) -> list[dict]:
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}/trials',
                             params=_params(limit=limit, offset=offset, user_id=user_id))

    def get_best_trials_of_train_job(self, app: str, app_version: int = -1, max_count: int = 2,
                                     user_id: Optional[str] = None) -> list[dict]:
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}/trials',
                             params=_params(type='best', max_count=max_count, user_id=user_id))

    def get_pareto_front(self, app: str, app_version: int = -1, user_id: Optional[str] = None,
                         objectives: Optional[list] = None, others: bool = False) -> dict:
        """``{objectives, constraints, trials}``: the job's completed trials that meet its constraints
        and that no other beats on every objective, each with ``values``, its figures by name.
        ``objectives`` (``[{name, direction}]``) finds the front on those instead of the job's; with
        ``others``, ``others`` lists the rest of its completed trials."""
        axes = ','.join(f'{o["name"]}:{o.get("direction", "maximize")}' for o in objectives) if objectives else None
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}/pareto',
                             params=_params(user_id=user_id, objectives=axes, others='true' if others else None))

    def get_train_job_logs(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> list[dict]:
        """The log files of the job's advisors and train workers, one per replica: ``{name,
        service_id, service_type, replica, model_name, size, modified_at}``."""
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}/logs',
                             params=_params(user_id=user_id))

    def get_train_job_log(self, app: str, name: str, app_version: int = -1, offset: Optional[int] = None,
                          limit: Optional[int] = None, user_id: Optional[str] = None) -> dict:
        """Part of one of those files, ``{name, size, offset, text, next_offset}``: by default its
        last 64 KiB; from ``offset`` on when given (``next_offset`` continues where it stopped)."""
        return self._request('GET', f'/train_jobs/{_quote(app)}/{int(app_version)}/logs/{_quote(name)}',
                             params=_params(offset=offset, limit=limit, user_id=user_id))

    def get_trial(self, trial_id: str) -> dict:
        return self._request('GET', f'/trials/{trial_id}')

    def get_trial_logs(self, trial_id: str, after_id: int = 0) -> dict:
        """``{plots, metrics, messages, last_id}``; pass ``last_id`` as ``after_id`` to read only newer lines."""
        return self._request('GET', f'/trials/{trial_id}/logs', params=_params(after_id=after_id or None))

    def get_trial_parameters(self, trial_id: str) -> dict:
        """The trained parameters, decoded without pickle (arrays keep their dtype and shape)."""
        from singa.param_store.codec import decode_params
        return decode_params(self._send('GET', f'/trials/{trial_id}/parameters').content)

    def download_trial_parameters(self, trial_id: str, out_path: str) -> str:
        """Save the trial's parameters as the admin stores them (decode with
        ``singa.param_store.codec.decode_params``), written whole or not at all; return the path."""
        return self._download(f'/trials/{trial_id}/parameters', out_path)

    def load_trial_model(self, trial_id: str, model_class):
        """An instance of ``model_class`` with the trial's knobs and trained parameters, ready to predict."""
        trial = self.get_trial(trial_id)
        model = model_class(**trial['knobs'])
        model.load_parameters(self.get_trial_parameters(trial_id))
        return model

    # -- inference jobs --------------------------------------------------------------------------

    def create_inference_job(self, app: str, app_version: int = -1, budget: Optional[dict] = None,
                             description: Optional[str] = None, models_per_template: int = 1,
                             max_models: Optional[int] = None, replicas: int = 1, ensemble: Optional[str] = None,
                             is_public: bool = False, max_batch_size: Optional[int] = None,
                             max_wait_ms: Optional[float] = None, select: Optional[dict] = None) -> dict:
        """Deploy the best trials of a finished train job (by default the best of each template), or the
        one trial a rule picks: ``select={"objective": "accuracy", "where": [{"name": "predict_latency_ms",
        "max": 5}]}`` (``"direction": "minimize"`` for the lowest; the workers' ``metrics`` say what was
        measured of it)."""
        body = {'app': app, 'app_version': int(app_version), 'budget': budget or {},
                'models_per_template': models_per_template, 'replicas': replicas, 'is_public': is_public}
        optional = {'description': description, 'max_models': max_models,
                    'ensemble': str(ensemble) if ensemble is not None else None, 'max_batch_size': max_batch_size,
                    'max_wait_ms': max_wait_ms, 'select': select}
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._request('POST', '/inference_jobs', json=body)

    def create_inference_job_by_checkpoint(self, model_name: str, budget: Optional[dict] = None,
                                           description: Optional[str] = None, knobs: Optional[dict] = None,
                                           replicas: int = 1, is_public: bool = False,
                                           max_batch_size: Optional[int] = None,
                                           max_wait_ms: Optional[float] = None) -> dict:
        """Deploy your template ``model_name`` with the checkpoint uploaded with it, with no train job.
        ``knobs``: the value of each knob its knob space does not fix. The job's app is ``model_name``,
        its version 1."""
        body = {'model_name': model_name, 'budget': budget or {}, 'replicas': replicas, 'is_public': is_public}
        optional = {'description': description, 'knobs': knobs, 'max_batch_size': max_batch_size,
                    'max_wait_ms': max_wait_ms}
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._request('POST', '/inference_jobs/checkpoint', json=body)

    def get_running_inference_job(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> dict:
        """The live inference job of an app version (else its latest), with ``predictor_url``."""
        return self._request('GET', f'/inference_jobs/{_quote(app)}/{int(app_version)}',
                             params=_params(user_id=user_id))

    def get_inference_jobs_of_app(self, app: str, user_id: Optional[str] = None) -> list[dict]:
        return self._request('GET', f'/inference_jobs/{_quote(app)}', params=_params(user_id=user_id))

    def get_inference_jobs_by_user(self, user_id: Optional[str] = None) -> list[dict]:
        return self._request('GET', '/inference_jobs', params=_params(user_id=user_id))

    def stop_inference_job(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> dict:
        return self._request('POST', f'/inference_jobs/{_quote(app)}/{int(app_version)}/stop',
                             params=_params(user_id=user_id))

    def wait_until_inference_job_is_running(self, app: str, app_version: int = -1, timeout: float = 120.0,
                                            interval: float = 0.5,
                                            on_update: Optional[Callable[[dict], None]] = None) -> dict:
        """Poll until the job is RUNNING (its predictor answers and a model is up); ``TimeoutError`` after
        ``timeout`` s; ``SingaError`` naming the reason if the job ends instead (its ``details`` hold the
        job's ``status``). ``on_update``, if given, is called with the job after every poll."""
        started = time.monotonic()
        while True:
            job = self.get_running_inference_job(app, app_version)
            if on_update is not None:
                on_update(job)
            if job['status'] == InferenceJobStatus.RUNNING:
                return job
            if job['status'] in InferenceJobStatus.FINISHED:
                raise SingaError(f'the inference job is {job["status"]}: {job.get("error") or "stopped"}',
                                 resource='inference_job', id=job['id'], details={'status': job['status']})
            if time.monotonic() - started > timeout:
                raise TimeoutError(f'inference job of {app} still {job["status"]} after {timeout} s')
            time.sleep(interval)

    def get_inference_job_logs(self, app: str, app_version: int = -1, user_id: Optional[str] = None) -> list[dict]:
        """The log files of the job's predictor and inference workers (as ``get_train_job_logs``)."""
        return self._request('GET', f'/inference_jobs/{_quote(app)}/{int(app_version)}/logs',
                             params=_params(user_id=user_id))

    def get_inference_job_log(self, app: str, name: str, app_version: int = -1, offset: Optional[int] = None,
                              limit: Optional[int] = None, user_id: Optional[str] = None) -> dict:
        """Part of one of those files (as ``get_train_job_log``)."""
        return self._request('GET', f'/inference_jobs/{_quote(app)}/{int(app_version)}/logs/{_quote(name)}',
                             params=_params(offset=offset, limit=limit, user_id=user_id))

    def create_prediction_key(self, app: str, app_version: int = -1, name: str = '') -> dict:
        """A new prediction key for the job's predictor; ``key`` is returned only now."""
        return self._request('POST', f'/inference_jobs/{_quote(app)}/{int(app_version)}/keys', json={'name': name})

    def get_prediction_keys(self, app: str, app_version: int = -1) -> list[dict]:
        return self._request('GET', f'/inference_jobs/{_quote(app)}/{int(app_version)}/keys')

    def revoke_prediction_key(self, app: str, key_id: str, app_version: int = -1) -> dict:
        return self._request('DELETE', f'/inference_jobs/{_quote(app)}/{int(app_version)}/keys/{key_id}')

    def predict(self, app: str, queries: list, app_version: int = -1, prediction_key: Optional[str] = None,
                predictor_url: Optional[str] = None, details: bool = False) -> list:
        """The ensemble's predictions for ``queries``, one per query.

        With a ``prediction_key`` (or for a public job with ``predictor_url``) the predictor is queried
        directly, as application users do; otherwise through the admin as the logged-in owner.
        With ``details`` the whole answer comes back (which models answered, each model's predictions).
        """
        body = {'queries': list(queries)}
        if details:
            body['details'] = True
        if prediction_key is not None or predictor_url is not None:
            url = predictor_url or self.get_running_inference_job(app, app_version)['predictor_url']
            if not url:
                raise ServiceUnavailableError('the inference job has no predictor address yet', resource='predictor')
            headers = {'Authorization': f'Bearer {prediction_key}'} if prediction_key else {}
            try:
                response = self.retry.run(lambda: self._session.post(url.rstrip('/') + '/predict', json=body,
                                                                     headers=headers, timeout=self.timeout))
            except (requests.ConnectionError, requests.Timeout) as e:
                raise ServiceUnavailableError(f'cannot reach the predictor at {url}: {e}', resource='predictor') from e
            if not response.ok:
                raise _error_from(response)
            answer = response.json()
        else:
            answer = self._request('POST', f'/inference_jobs/{_quote(app)}/{int(app_version)}/predict', json=body)
        return answer if details else answer['predictions']

    def stop_all_jobs(self) -> dict:
        """Superadmin only: stop every live train and inference job."""
        return self._request('POST', '/actions/stop_all_jobs')

    # Audit log, webhooks, quotas -----------------------------------------------------------------

    def get_events(self, kind: Optional[str] = None, user_id: Optional[str] = None, job_id: Optional[str] = None,
                   since=None, until=None, after_id: Optional[int] = None, before_id: Optional[int] = None,
                   limit: int = 100, order: str = 'desc') -> list[dict]:
        """The audit log (admins: everyone's; others: their own), newest first unless ``order='asc'``.
        ``since`` and ``until`` are datetimes (with a time zone; none: UTC) or RFC 3339 strings. Page
        back with ``before_id`` (the last id seen), or follow the log with ``order='asc'`` and ``after_id``."""
        return self._request('GET', '/events', params=_params(
            kind=kind, user_id=user_id, job_id=job_id, since=_time(since), until=_time(until), after_id=after_id,
            before_id=before_id, limit=limit, order=order))

    def create_webhook(self, url: str, kinds: Optional[list] = None, description: str = '') -> dict:
        """Have your events POSTed to ``url`` (only those of ``kinds``, if given). The answer's ``secret``,
        shown only now, signs every request: check them with ``verify_webhook_signature``."""
        body = {'url': url, 'description': description}
        if kinds is not None:
            body['kinds'] = [str(k) for k in kinds]
        return self._request('POST', '/webhooks', json=body)

    def get_webhooks(self) -> list[dict]:
        return self._request('GET', '/webhooks')

    def get_webhook(self, webhook_id: str) -> dict:
        return self._request('GET', f'/webhooks/{webhook_id}')

    def delete_webhook(self, webhook_id: str) -> dict:
        return self._request('DELETE', f'/webhooks/{webhook_id}')

    def get_webhook_deliveries(self, webhook_id: str, status: Optional[str] = None, limit: int = 100) -> list[dict]:
        """The delivery log of a webhook, newest first: each delivery with every attempt at it."""
        return self._request('GET', f'/webhooks/{webhook_id}/deliveries', params=_params(status=status, limit=limit))

    def get_quota(self, user_id: Optional[str] = None) -> dict:
        """A user's limits and what they use now (default: your own)."""
        user_id = user_id or self._request('GET', '/users/me')['id']
        return self._request('GET', f'/users/{user_id}/quota')

    def set_quota(self, user_id: str, running_jobs: Optional[int] = None, workers: Optional[int] = None,
                  gpus: Optional[int] = None, stored_bytes: Optional[int] = None) -> dict:
        """Admins: replace a user's limits (-1: no limit; a limit left out is the platform's default)."""
        limits = {'running_jobs': running_jobs, 'workers': workers, 'gpus': gpus, 'stored_bytes': stored_bytes}
        return self._request('PUT', f'/users/{user_id}/quota', json={k: v for k, v in limits.items() if v is not None})

    def _download(self, path: str, out_path: str) -> str:
        """Stream the body of ``GET path`` into ``out_path`` through a partial file renamed at the end."""
        response = self._send('GET', path, stream=True)
        partial = f'{out_path}.part'
        try:
            with open(partial, 'wb') as f:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    f.write(chunk)
            os.replace(partial, out_path)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        finally:
            response.close()
        return out_path

    def _request(self, method: str, path: str, **kwargs) -> Any:
        """Send a request and return its JSON body, or raise the error the admin answered with."""
        return self._send(method, path, **kwargs).json()

    def _send(self, method: str, path: str, auth: bool = True, headers: Optional[dict] = None,
              **kwargs) -> requests.Response:
        """Send a request (again, per ``self.retry``, when it may not have arrived); raise the admin's error."""
        headers = dict(headers or {})
        if method not in SAFE_METHODS:
            headers.setdefault(IDEMPOTENCY_HEADER, str(uuid.uuid4()))
        if auth and self._token:
            headers['Authorization'] = f'Bearer {self._token}'
        body = kwargs.get('data')

        def attempt() -> requests.Response:
            if isinstance(body, MultipartStream):
                body.rewind()
            return self._session.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                         **kwargs)
        try:
            response = self.retry.run(attempt)
        except (requests.ConnectionError, requests.Timeout) as e:
            raise ServiceUnavailableError(f'cannot reach the admin at {self.base_url}: {e}',
                                          resource='admin') from e
        if not response.ok:
            raise _error_from(response)
        return response


def _error_from(response: requests.Response) -> SingaError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get('error'), dict):
        return SingaError.from_dict(body['error'], status_code=response.status_code)
    err = SingaError(f'HTTP {response.status_code} from the admin: {response.text[:200]}')
    err.status_code = response.status_code
    return err


def _params(**values) -> dict:
    return {k: str(v) for k, v in values.items() if v is not None}


def _time(value) -> Optional[str]:
    """A datetime (or an RFC 3339 string) for a query parameter."""
    return value.isoformat() if hasattr(value, 'isoformat') else value


def _quote(segment: str) -> str:
    return urllib.parse.quote(str(segment), safe='')
