"""Helpers for the admin API tests: a small API driver, users, and dataset and template builders."""
import io
import uuid
import zipfile
from dataclasses import dataclass
from typing import Optional

from PIL import Image

from singa.admin.context import admin_context
from singa.admin.services import users as users_service
from singa.constants import UserType
from singa.meta_store import train_jobs
from singa.meta_store import users as users_repo

PASSWORD = 'sturdy-lantern-42'   # the password policy refuses the likes of 'password-123'
# Small limits keep the oversized-upload tests cheap.
MAX_DATASET_BYTES = 256 << 10
MAX_MODEL_BYTES = 64 << 10


@dataclass
class User:
    id: str
    email: str
    user_type: str
    token: str
    password: str = PASSWORD


class Api:
    """Calls the app through its test client, with a user's bearer token when given one."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        with app.app_context():
            self.ctx = admin_context()

    def call(self, method: str, path: str, user: Optional[User] = None, token: Optional[str] = None, **kwargs):
        headers = kwargs.pop('headers', {})
        token = token or (user.token if user else None)
        if token:
            headers['Authorization'] = f'Bearer {token}'
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, user=None, **kw):
        return self.call('GET', path, user, **kw)

    def post(self, path, user=None, **kw):
        return self.call('POST', path, user, **kw)

    def delete(self, path, user=None, **kw):
        return self.call('DELETE', path, user, **kw)

    def superadmin(self) -> User:
        settings = self.ctx.settings
        body = self.post('/tokens', json={'email': settings.superadmin_email,
                                          'password': settings.superadmin_password}).get_json()
        return User(body['user_id'], settings.superadmin_email, body['user_type'], body['token'],
                    settings.superadmin_password)

    def token_for(self, user_id) -> str:
        with self.ctx.meta_store.transaction() as cur:
            record = users_repo.get_user(cur, uuid.UUID(str(user_id)))
        return self.ctx.signer.issue(record.id, record.user_type, record.token_epoch)[0]

    def upload_dataset(self, user, data: bytes, task: str = 'TABULAR_CLASSIFICATION', name: str = 'ds',
                       file_name: str = 'data.csv', **extra):
        form = {'name': name, 'task': task, 'dataset': (io.BytesIO(data), file_name), **extra}
        return self.post('/datasets', user, data=form, content_type='multipart/form-data')

    def upload_model(self, user, source: bytes, name: str = 'm', model_class: str = 'Good',
                     task: str = 'TABULAR_CLASSIFICATION', file_name: str = 'model.py', **extra):
        form = {'name': name, 'task': task, 'model_class': model_class,
                'model_file_bytes': (io.BytesIO(source), file_name), **extra}
        return self.post('/models', user, data=form, content_type='multipart/form-data')


def make_user(api: Api, user_type: UserType, email: str) -> User:
    """Create a user directly through the service (the HTTP path has its own tests) and a token for it."""
    with api.ctx.meta_store.transaction() as cur:
        superadmin = users_repo.get_user_by_email(cur, api.ctx.settings.superadmin_email)
    record = users_service.create_user(api.ctx.meta_store, superadmin, email, PASSWORD, user_type)
    return User(str(record.id), record.email, record.user_type, api.token_for(record.id))


def recorded_train_job(cur, owner_id, dataset_id, model_id, app: str = 'job'):
    """``(job, sub-job)``: a train job of one template recorded as the admin records one, with no
    service started (the tests then record trials, statuses and services of their own)."""
    job = train_jobs.insert_train_job(cur, owner_id=uuid.UUID(str(owner_id)), app=app, task='TABULAR_CLASSIFICATION',
                                      budget={}, train_dataset_id=dataset_id, val_dataset_id=dataset_id,
                                      train_args={}, advisor_config={}, time_budget_seconds=None)
    return job, train_jobs.insert_sub_train_job(cur, job.id, uuid.UUID(str(model_id)))


def error_of(response, status: int, error_type: str, field: Optional[str] = None) -> dict:
    """Assert the error envelope and return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {'error'}, body
    assert body['error']['type'] == error_type, body
    if field is not None:
        assert body['error'].get('field') == field, body
    return body['error']


# Datasets ---------------------------------------------------------------------------------------

def csv_bytes(*rows) -> bytes:
    return ''.join(','.join(str(c) for c in row) + '\n' for row in rows).encode()


CLASSIFICATION_CSV = csv_bytes(('a', 'b', 'label'), (1, 2, 'x'), (3, 4, 'y'), (5, 6, 'x'))
REGRESSION_CSV = csv_bytes(('a', 'b', 'y'), (1, 2, 0.5), (3, 4, 1.5), (5, 6, 4.0))


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new('L', (width, height), 128).save(buf, format='PNG')
    return buf.getvalue()


def zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def images_csv_zip(**overrides) -> bytes:
    members = {'images.csv': 'path,class\nimg/0.png,0\nimg/1.png,1\nimg/2.png,1\n',
               'img/0.png': png(8, 6), 'img/1.png': png(8, 6), 'img/2.png': png(4, 4)}
    members.update(overrides)
    return zip_bytes({k: v for k, v in members.items() if v is not None})


def class_folders_zip() -> bytes:
    return zip_bytes({'cat/1.png': png(5, 5), 'cat/2.png': png(5, 5), 'dog/1.png': png(5, 5),
                      'dog/.DS_Store': b'junk', '__MACOSX/cat/._1.png': b'junk'})


# Model templates ---------------------------------------------------------------------------------

GOOD_TEMPLATE = b'''
from singa.model import BaseModel, FloatKnob, CategoricalKnob

class Good(BaseModel):
    @staticmethod
    def get_knob_config():
        return {'kind': CategoricalKnob(['a', 'b']), 'lr': FloatKnob(1e-4, 1e-1, is_exp=True)}
    def train(self, dataset_path, shared_params=None, **train_args): pass
    def evaluate(self, dataset_path, **kwargs): return 1.0
    def predict(self, queries): return [0 for _ in queries]
    def dump_parameters(self): return {}
    def load_parameters(self, params): pass
'''
