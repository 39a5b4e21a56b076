"""Fixtures for the admin API: an app on the session's PostgreSQL, users of every role, and a test
client that fails the test on any 500 answer."""
import dataclasses

import pytest
from flask.testing import FlaskClient

from admin_helpers import MAX_DATASET_BYTES, MAX_MODEL_BYTES, Api, make_user
from singa.admin import auth
from singa.admin.app import create_app
from singa.constants import UserType


class NoServerErrorClient(FlaskClient):
    """A test client for which a 500 answer fails the test: no request in the suite may cause one."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if response.status_code == 500:
            pytest.fail(f'the admin answered 500: {response.get_data(as_text=True)}')
        return response


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """Hash with a low scrypt cost, as Django's test settings do: the cost is kept in each hash, so
    verifying is unchanged, and a test creating a few users no longer spends 30 ms on each."""
    monkeypatch.setattr(auth, '_SCRYPT_N', 1 << 10)


@pytest.fixture
def admin_settings(settings):
    return dataclasses.replace(settings, max_dataset_bytes=MAX_DATASET_BYTES, max_model_bytes=MAX_MODEL_BYTES,
                               model_check_timeout=20.0)


@pytest.fixture
def app(admin_settings, meta_store):
    app = create_app(admin_settings, meta_store=meta_store, start_reconciler=False)
    app.test_client_class = NoServerErrorClient
    return app


@pytest.fixture
def api(app) -> Api:
    return Api(app)


@pytest.fixture
def superadmin(api):
    return api.superadmin()


def _user(user_type: UserType, email: str):
    @pytest.fixture
    def user(api, superadmin):
        return make_user(api, user_type, email)
    return user


admin_user = _user(UserType.ADMIN, 'admin@example.com')
model_dev = _user(UserType.MODEL_DEVELOPER, 'dev@example.com')
other_dev = _user(UserType.MODEL_DEVELOPER, 'dev2@example.com')
app_dev = _user(UserType.APP_DEVELOPER, 'app@example.com')
other_app_dev = _user(UserType.APP_DEVELOPER, 'app2@example.com')
