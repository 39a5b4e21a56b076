"""Multipart uploads streamed straight to shared storage, never held in memory.

``UploadRequest`` (the app's request class) writes every file part to a named temporary file in the
storage's upload directory; the service then validates the file where it lies and renames it into
place. Whatever is still at a temporary name when the request ends is removed.
"""
import os

from flask import Request, request
from werkzeug.datastructures import FileStorage

from singa.admin.context import admin_context
from singa.admin.services import files

# Room for the multipart framing and the text fields next to the file itself.
MULTIPART_SLACK = 256 << 10


class UploadRequest(Request):
    singa_upload_paths: list = ()

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        stream = files.new_upload_file(files.upload_dir(admin_context().settings))
        self.singa_upload_paths = [*self.singa_upload_paths, stream.name]
        return stream


def limit_upload(max_file_bytes: int) -> None:
    """Let this request's body be as large as a file of ``max_file_bytes`` plus the form around it."""
    request.max_content_length = max_file_bytes + MULTIPART_SLACK


def saved_upload(storage: FileStorage) -> files.UploadedFile:
    stream = storage.stream
    stream.flush()
    return files.UploadedFile(path=stream.name, size=os.fstat(stream.fileno()).st_size,
                              file_name=storage.filename or '')


def remove_leftover_uploads(_exc=None) -> None:
    """``teardown_request`` hook: remove uploads the request did not store."""
    for path in getattr(request, 'singa_upload_paths', ()):
        files.remove_quietly(path)
