"""The Python client of the SingaAuto admin, with SingaAuto's method names.

    from singa.client import Client
    client = Client(admin_host='localhost', admin_port=3000)
    client.login('superadmin@singaauto', password)
    client.create_dataset('train', 'TABULAR_CLASSIFICATION', 'train.csv')

Every failed call raises the ``SingaError`` subclass the admin raised (``NotFoundError``,
``InvalidDatasetError``, ...), rebuilt from the JSON error envelope, with the HTTP status in
``status_code``; an admin that cannot be reached raises ``ServiceUnavailableError``. Uploads are
streamed from disk. The client depends only on ``requests`` and on ``singa.constants`` and
``singa.errors`` of the core.
"""
import json
import os
from typing import Any, Optional, Union

import requests

from singa.client.multipart import MultipartStream
from singa.constants import ModelAccessRight
from singa.errors import ServiceUnavailableError, SingaError

DEFAULT_HOST = 'localhost'
DEFAULT_PORT = 3000


class Client:
    def __init__(self, admin_host: Optional[str] = None, admin_port: Optional[int] = None, scheme: str = 'http',
                 timeout: float = 60):
        """Talk to the admin at ``scheme://admin_host:admin_port``.

        When ``admin_host`` or ``admin_port`` is not given, the environment variables
        ``SINGA_ADMIN_HOST`` and ``SINGA_ADMIN_PORT`` are used if set, else ``localhost:3000``.
        ``timeout`` (seconds) bounds each wait for the admin, not a whole upload.
        """
        host = admin_host or os.environ.get('SINGA_ADMIN_HOST') or DEFAULT_HOST
        if host in ('0.0.0.0', '::'):        # a bind-everything address: the admin is local
            host = DEFAULT_HOST
        port = int(admin_port or os.environ.get('SINGA_ADMIN_PORT') or DEFAULT_PORT)
        self.base_url = f'{scheme}://{host}:{port}'
        self.timeout = timeout
        self._token: Optional[str] = None
        self._user: Optional[dict] = None
        self._session = requests.Session()

    # Users ----------------------------------------------------------------------------------------

    def login(self, email: str, password: str) -> dict:
        """Log in and keep the token for later calls; returns ``{id, user_type, expires_at}``."""
        body = self._request('POST', '/tokens', json={'email': email, 'password': password}, auth=False)
        self._token = body['token']
        self._user = {'id': body['user_id'], 'user_type': body['user_type'], 'expires_at': body['expires_at']}
        return dict(self._user)

    def logout(self) -> None:
        """Forget the token (tokens expire on their own; a ban revokes them at once)."""
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
        """Ban a user; their tokens stop working at once."""
        return self._request('DELETE', '/users', json={'email': email})

    # Datasets -------------------------------------------------------------------------------------

    def create_dataset(self, name: str, task: str, dataset_path: str) -> dict:
        """Upload the file at ``dataset_path`` (streamed) as a dataset for ``task``."""
        body = MultipartStream({'name': name, 'task': str(task)}, {'dataset': dataset_path})
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
                     model_file_name: Optional[str] = None, model_description: Optional[str] = None) -> dict:
        """Upload a model template: a ``.py`` file, or a ``.zip`` with ``model_file_name`` naming the module
        in it. ``dependencies``: a list of requirement strings or a ``{name: version}`` dict."""
        fields = {'name': name, 'task': str(task), 'model_class': model_class,
                  'dependencies': json.dumps(dependencies) if dependencies is not None else None,
                  'access_right': str(access_right), 'docker_image': docker_image,
                  'model_file_name': model_file_name, 'model_description': model_description}
        body = MultipartStream(fields, {'model_file_bytes': model_file_path})
        return self._request('POST', '/models', data=body, headers={'Content-Type': body.content_type})

    def get_available_models(self, task: Optional[str] = None) -> list[dict]:
        """Templates you may train with: yours and public ones."""
        return self._request('GET', '/models/available', params=_params(task=task))

    def get_model(self, model_id: str) -> dict:
        return self._request('GET', f'/models/{model_id}')

    def download_model_file(self, model_id: str, out_model_file_path: str) -> str:
        """Save the template's file to ``out_model_file_path`` (written whole or not at all); return the path."""
        response = self._send('GET', f'/models/{model_id}/model_file', stream=True)
        partial = f'{out_model_file_path}.part'
        try:
            with open(partial, 'wb') as f:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    f.write(chunk)
            os.replace(partial, out_model_file_path)
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        finally:
            response.close()
        return out_model_file_path

    def delete_model(self, model_id: str) -> dict:
        return self._request('DELETE', f'/models/{model_id}')

    # Plumbing -------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> Any:
        """Send a request and return its JSON body, or raise the error the admin answered with."""
        return self._send(method, path, **kwargs).json()

    def _send(self, method: str, path: str, auth: bool = True, headers: Optional[dict] = None,
              **kwargs) -> requests.Response:
        headers = dict(headers or {})
        if auth and self._token:
            headers['Authorization'] = f'Bearer {self._token}'
        try:
            response = self._session.request(method, self.base_url + path, headers=headers, timeout=self.timeout,
                                             **kwargs)
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
