"""Datasets given by URL: the admin under gunicorn downloads them from a test HTTP server on
loopback (allowed for this test with SINGA_DATASET_URL_NETWORKS=127.0.0.0/8), within the dataset
size limit and the time limit, then checks them as uploads; refusals are 4xx that say why. With
the default policy (public addresses only) a loopback or private address is refused before any
request is sent."""
import http.server
import io
import threading
import time

import pytest

from admin_helpers import CLASSIFICATION_CSV, error_of
from singa.client import Client
from singa.errors import ForbiddenError, InvalidDatasetError, InvalidRequestError, PayloadTooLargeError

LIMIT = 64 << 10
TIMEOUT = 2.0


class Files(http.server.BaseHTTPRequestHandler):
    """What the test server answers, by path; ``hits`` counts the requests it got."""
    hits: list = []

    def do_GET(self):
        Files.hits.append(self.path)
        if self.path == '/iris.csv':
            self._send(200, CLASSIFICATION_CSV)
        elif self.path == '/moved':
            self.send_response(302)
            self.send_header('Location', '/iris.csv')
            self.send_header('Content-Length', '0')
            self.end_headers()
        elif self.path == '/announced-big.csv':
            self._send(200, b'a,b\n', length=LIMIT + 1)
        elif self.path == '/endless.csv':           # no length: runs past the limit
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(LIMIT // 1024 + 2):
                    self.wfile.write(b'1,2\n' * 256)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == '/trickle.csv':           # a byte at a time, each within the read timeout
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b'1')
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):
                pass                                # the admin gave up on it, as it should
        elif self.path == '/gzipped.csv':
            self._send(200, b'\x1f\x8b...', headers={'Content-Encoding': 'gzip'})
        elif self.path == '/not-a-dataset.csv':
            self._send(200, b'just one column\n')
        else:
            self._send(404, b'no such file')

    def _send(self, status, body, length=None, headers=None):
        self.send_response(status)
        self.send_header('Content-Length', str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Files)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Files.hits = []
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback_admin(request, monkeypatch):
    """The admin under gunicorn, allowed to download from loopback, with a small size and time limit."""
    monkeypatch.setenv('SINGA_DATASET_URL_NETWORKS', '127.0.0.0/8')
    monkeypatch.setenv('SINGA_MAX_DATASET_BYTES', str(LIMIT))
    monkeypatch.setenv('SINGA_DATASET_URL_TIMEOUT_SECONDS', str(TIMEOUT))
    port = request.getfixturevalue('admin_server')
    client = Client('127.0.0.1', port)
    settings = request.getfixturevalue('base_env')
    client.login(settings['SINGA_SUPERADMIN_EMAIL'], settings['SINGA_SUPERADMIN_PASSWORD'])
    return client


def test_a_dataset_is_downloaded_checked_and_stored(loopback_admin, file_server):
    dataset = loopback_admin.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url=f'{file_server}/iris.csv')
    assert dataset['size_bytes'] == len(CLASSIFICATION_CSV) and dataset['task'] == 'TABULAR_CLASSIFICATION'
    assert dataset['stat']['rows'] == 3 and dataset['stat']['target'] == 'label'
    moved = loopback_admin.create_dataset('moved', 'TABULAR_CLASSIFICATION', dataset_url=f'{file_server}/moved')
    assert moved['size_bytes'] == len(CLASSIFICATION_CSV)           # a redirect, checked like the first hop
    assert sorted(d['name'] for d in loopback_admin.get_datasets()) == ['moved', 'remote']


def test_downloads_keep_to_the_limits_and_say_why_not(loopback_admin, file_server):
    def refused(path, error):
        with pytest.raises(error) as caught:
            loopback_admin.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url=f'{file_server}{path}')
        return caught.value

    e = refused('/announced-big.csv', PayloadTooLargeError)
    assert e.status_code == 413 and f'at most {LIMIT} bytes' in e.message and str(LIMIT + 1) in e.message
    assert refused('/endless.csv', PayloadTooLargeError).status_code == 413
    started = time.monotonic()
    e = refused('/trickle.csv', InvalidRequestError)
    assert e.status_code == 400 and f'longer than {TIMEOUT:g} s' in e.message
    assert time.monotonic() - started < TIMEOUT + 3
    assert 'Content-Encoding: gzip' in refused('/gzipped.csv', InvalidRequestError).message
    assert 'answered HTTP 404' in refused('/missing.csv', InvalidRequestError).message
    e = refused('/not-a-dataset.csv', InvalidDatasetError)       # the checks of an upload
    assert e.status_code == 400 and e.field
    e = refused('', InvalidRequestError)
    assert e.status_code == 400 and e.field == 'dataset_url'
    for url in ('ftp://127.0.0.1/iris.csv', 'file:///etc/passwd', 'http://user:pw@127.0.0.1/x'):
        with pytest.raises(InvalidRequestError) as caught:
            loopback_admin.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url=url)
        assert caught.value.status_code == 400 and caught.value.field == 'dataset_url', url
    port = file_server.rsplit(':', 1)[1]
    with pytest.raises(InvalidRequestError, match='cannot download'):
        loopback_admin.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url='http://127.0.0.1:1/x.csv')
    with pytest.raises(ForbiddenError) as caught:    # allowed: 127.0.0.0/8; not: other private addresses
        loopback_admin.create_dataset('remote', 'TABULAR_CLASSIFICATION', dataset_url=f'http://10.0.0.1:{port}/x')
    assert caught.value.status_code == 403 and 'SINGA_DATASET_URL_NETWORKS' in caught.value.message
    assert loopback_admin.get_datasets() == []              # nothing was kept of any of them


def test_by_default_internal_addresses_are_refused_before_any_request(api, app_dev, file_server):
    port = file_server.rsplit(':', 1)[1]
    for host in ('127.0.0.1', 'localhost', '10.1.2.3', '169.254.169.254', '192.168.0.1', '[::1]', '0.0.0.0'):
        response = api.post('/datasets', app_dev, content_type='multipart/form-data', data={
            'name': 'remote', 'task': 'TABULAR_CLASSIFICATION', 'dataset_url': f'http://{host}:{port}/iris.csv'})
        assert response.status_code in (400, 403), (host, response.get_json())
        assert response.get_json()['error']['field'] == 'dataset_url', host
    assert Files.hits == []
    both = api.post('/datasets', app_dev, content_type='multipart/form-data', data={
        'name': 'x', 'task': 'TABULAR_CLASSIFICATION', 'dataset_url': f'{file_server}/iris.csv',
        'dataset': (io.BytesIO(CLASSIFICATION_CSV), 'a.csv')})
    assert 'exactly one of dataset and dataset_url' in error_of(both, 400, 'InvalidRequestError', 'dataset_url')['message']
    neither = api.post('/datasets', app_dev, content_type='multipart/form-data',
                       data={'name': 'x', 'task': 'TABULAR_CLASSIFICATION'})
    error_of(neither, 400, 'InvalidRequestError', 'dataset')
