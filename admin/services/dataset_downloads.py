"""Datasets given by URL (``dataset_url``): the admin downloads the file, then checks it as an upload.

The URL is user input the admin sends a request to, so the download keeps to the networks
``SINGA_DATASET_URL_NETWORKS`` allows (``outbound_http``: by default public addresses only, checked
again on every connection, redirects included: at most ``MAX_REDIRECTS``), and to the limits of
an upload: at most ``max_dataset_bytes`` (a larger ``Content-Length`` is refused before reading,
a body that runs past it is cut off), all within ``dataset_url_timeout_seconds`` (each read waits
at most ``READ_TIMEOUT_SECONDS``; the deadline is checked after each, so a server that trickles
gains nothing). The body is asked for and taken as it is (``Accept-Encoding: identity``): a
compressed answer is refused rather than inflated. At most ``MAX_CONCURRENT_DOWNLOADS`` run at
once in one admin process (each holds a request thread); more get a 503 at once.

Refusals are 4xx: 400 for a URL that is not ``http(s)``, a server that cannot be reached or
answers other than 200, or a download past its time; 403 for an address outside the networks
(nothing is sent there); 413 past the size limit.
"""
import os
import threading
import time
import urllib.parse

import requests
import urllib3

from singa.admin.services import files
from singa.admin.services.outbound_http import (NetworkPolicy, RefusedAddress, check_url, checked_session,
                                                innermost_error)
from singa.config import Settings
from singa.errors import InvalidRequestError, PayloadTooLargeError, ServiceUnavailableError

FIELD = 'dataset_url'
MAX_REDIRECTS = 5
READ_TIMEOUT_SECONDS = 30.0
CHUNK_BYTES = 1 << 16
MAX_CONCURRENT_DOWNLOADS = 2


class DatasetDownloader:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.policy = NetworkPolicy.parse(settings.dataset_url_networks, setting='SINGA_DATASET_URL_NETWORKS',
                                          what='dataset URLs', field=FIELD)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT_DOWNLOADS)

    def download(self, url: str) -> files.UploadedFile:
        """The file at ``url``, at a temporary name in the upload directory (the caller stores or removes it)."""
        check_url(url, self.policy)
        if not self._slots.acquire(blocking=False):
            raise ServiceUnavailableError(f'{MAX_CONCURRENT_DOWNLOADS} dataset downloads are already running in this '
                                          'admin process; try again later', resource='dataset')
        try:
            return self._download(url)
        finally:
            self._slots.release()

    def _download(self, url: str) -> files.UploadedFile:
        limit, timeout = self.settings.max_dataset_bytes, self.settings.dataset_url_timeout_seconds
        deadline = time.monotonic() + timeout
        session = checked_session(self.policy)
        session.max_redirects = MAX_REDIRECTS
        out = files.new_upload_file(files.upload_dir(self.settings))
        done = False
        try:
            with out, session.get(url, stream=True, headers={'Accept-Encoding': 'identity'},
                                  timeout=min(READ_TIMEOUT_SECONDS, timeout)) as response:
                _check_answer(response, limit)
                size = 0
                while chunk := response.raw.read1(CHUNK_BYTES):
                    size += len(chunk)
                    if size > limit:
                        raise _too_large(limit)
                    if time.monotonic() > deadline:
                        raise _too_slow(timeout)
                    out.write(chunk)
                if time.monotonic() > deadline:
                    raise _too_slow(timeout)
            done = True
            name = os.path.basename(urllib.parse.urlsplit(response.url).path)
            return files.UploadedFile(path=out.name, size=size, file_name=name)
        except requests.exceptions.TooManyRedirects:
            raise InvalidRequestError(f'{url} redirects more than {MAX_REDIRECTS} times', field=FIELD) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
            inner = innermost_error(e)
            if isinstance(inner, RefusedAddress):
                raise inner.refusal from None
            timed_out = isinstance(inner, (TimeoutError, urllib3.exceptions.TimeoutError))
            if timed_out and not isinstance(inner, urllib3.exceptions.NewConnectionError):   # one subclasses the other
                raise _too_slow(timeout) from None
            raise InvalidRequestError(f'cannot download {url}: {_reason(inner)}', field=FIELD) from None
        finally:
            session.close()
            if not done:
                files.remove_quietly(out.name)


def _check_answer(response: requests.Response, limit: int) -> None:
    if response.status_code != 200:
        raise InvalidRequestError(f'{response.url} answered HTTP {response.status_code}; a dataset URL must answer '
                                  '200 with the file', field=FIELD)
    encoding = response.headers.get('Content-Encoding', 'identity').strip().lower()
    if encoding not in ('', 'identity'):
        raise InvalidRequestError(f'{response.url} sent the file compressed (Content-Encoding: {encoding}) though '
                                  'asked not to; give a URL that serves it as it is', field=FIELD)
    length = response.headers.get('Content-Length', '')
    if length.isdigit() and int(length) > limit:
        raise _too_large(limit, int(length))


def _too_large(limit: int, length: int = 0) -> PayloadTooLargeError:
    told = f'is {length} bytes' if length else 'is larger than that'
    return PayloadTooLargeError(f'datasets may be at most {limit} bytes; the file at dataset_url {told}', field=FIELD)


def _too_slow(timeout: float) -> InvalidRequestError:
    return InvalidRequestError(f'the download of dataset_url took longer than {timeout:g} s '
                               '(SINGA_DATASET_URL_TIMEOUT_SECONDS)', field=FIELD)


def _reason(error: BaseException) -> str:
    """What went wrong, without urllib3's object addresses (``<...Connection object at 0x...>: ...``)."""
    text = str(error)
    return text.split('>: ', 1)[-1] if 'object at 0x' in text else text
