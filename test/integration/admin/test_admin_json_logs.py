"""SINGA_LOG_FORMAT=json for the admin as `singa up` runs it: every line of its log, gunicorn's
master and workers included, is a JSON object."""
import json

import requests

from admin_server import admin_log, running_admin


def test_the_admin_logs_json_lines(base_env, meta_store, tmp_path):
    root = tmp_path / 'platform'
    with running_admin(base_env, root, SINGA_LOG_FORMAT='json') as (url, _):
        assert requests.get(f'{url}/health', timeout=10).ok
    lines = [line for line in admin_log(root).splitlines() if line and not line.startswith('--- singa up')]
    parsed = [json.loads(line) for line in lines]
    assert any(p['logger'] == 'gunicorn.error' and 'Listening at' in p['message'] for p in parsed)
    assert any('Booting worker' in p['message'] for p in parsed)
    assert all({'time', 'level', 'logger', 'message', 'role'} <= set(p) for p in parsed)
