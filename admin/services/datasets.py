"""Datasets: upload or download (checked against the task's format), list, get, delete.

A user sees only their own datasets; admins see every one. A dataset that exists but is not the
caller's is reported as not found, so ids cannot be probed.
"""
import os
import uuid
from typing import Optional

from singa.admin.services import files, quotas
from singa.admin.services.text import NOT_BLANK_PATTERN
from singa.config import Settings
from singa.constants import ADMIN_TYPES, Task
from singa.errors import (ConflictError, ForbiddenError, InvalidDatasetError, InvalidRequestError, NotFoundError,
                          PayloadTooLargeError)
from singa.meta_store import datasets as datasets_repo
from singa.meta_store import events
from singa.meta_store.db import MetaStore
from singa.meta_store.records import DatasetRecord, UserRecord
from singa.tasks import get_task

MAX_NAME_LENGTH = 255
NAME_PATTERN = NOT_BLANK_PATTERN
NAME_HINT = 'a name with a character other than white space'


def create_dataset(store: MetaStore, settings: Settings, owner: UserRecord, name: str, task: Task,
                   upload: files.UploadedFile) -> DatasetRecord:
    """Check the uploaded file against the task's format (``singa.tasks``), move it to
    ``data/<new id>.<zip|csv>`` and record it with the statistics the check returned.

    The upload is consumed: on success it has been renamed into place, on failure it is removed.
    """
    try:
        name = check_name(name)
        if upload.size > settings.max_dataset_bytes:
            raise PayloadTooLargeError(f'the dataset is {upload.size} bytes; the limit is '
                                       f'{settings.max_dataset_bytes}', field='dataset')
        if upload.size == 0:
            raise InvalidDatasetError('the dataset file is empty', field='dataset')
        stat = get_task(task).check_dataset(upload.path)
    except BaseException:
        files.remove_quietly(upload.path)
        raise
    dataset_id = uuid.uuid4()
    relative = f'{files.DATA_DIR}/{dataset_id}.{get_task(task).dataset_extension}'
    final_path = files.storage_path(settings, relative)
    try:
        os.replace(upload.path, final_path)
        with store.transaction() as cur:
            quotas.check(cur, settings, owner, stored_bytes=upload.size)
            record = datasets_repo.insert_dataset(
                cur, dataset_id=dataset_id, owner_id=owner.id, name=name, task=task.value, store_path=relative,
                file_name=os.path.basename(upload.file_name or '')[:MAX_NAME_LENGTH], size_bytes=upload.size,
                stat=stat)
            events.record_event(cur, events.DATASET_CREATED, subject_id=dataset_id, actor_id=owner.id,
                                data={'owner_id': str(owner.id), 'name': name, 'task': task.value,
                                      'size_bytes': upload.size})
    except BaseException:
        files.remove_quietly(upload.path)
        files.remove_quietly(final_path)
        raise
    return record


def create_dataset_from_url(store: MetaStore, settings: Settings, owner: UserRecord, name: str, task: Task,
                            url: str, downloader) -> DatasetRecord:
    """Download ``url`` (``downloader``: a ``dataset_downloads.DatasetDownloader``, which keeps to its
    networks, size and time limits), then check and record it as ``create_dataset`` does an upload."""
    check_name(name)
    return create_dataset(store, settings, owner, name, task, downloader.download(url))


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidRequestError('name must not be empty', field='name')
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidRequestError(f'name must be at most {MAX_NAME_LENGTH} characters', field='name')
    return name


def list_datasets(store: MetaStore, actor: UserRecord, task: Optional[Task] = None,
                  owner_id: Optional[uuid.UUID] = None) -> list[DatasetRecord]:
    """The caller's datasets (optionally of one task); an admin may name another owner."""
    if owner_id is not None and owner_id != actor.id and actor.user_type not in ADMIN_TYPES:
        raise ForbiddenError('only admins may list the datasets of another user', field='owner_id')
    with store.transaction() as cur:
        return datasets_repo.list_datasets(cur, owner_id or actor.id, task.value if task else None)


def get_dataset(store: MetaStore, actor: UserRecord, dataset_id: uuid.UUID) -> DatasetRecord:
    with store.transaction() as cur:
        return _visible(cur, actor, dataset_id)


def delete_dataset(store: MetaStore, settings: Settings, actor: UserRecord, dataset_id: uuid.UUID) -> DatasetRecord:
    """Delete the row and the file; refused (409) while a live train job uses the dataset."""
    with store.transaction() as cur:
        # The row lock orders this against a train job being created on the dataset right now.
        dataset = _visible(cur, actor, dataset_id, for_update=True)
        live = datasets_repo.live_train_jobs_using_dataset(cur, dataset_id)
        if live:
            raise ConflictError(f'the dataset is used by {len(live)} live train job(s); stop them first',
                                resource='dataset', id=dataset_id,
                                details={'train_job_ids': [str(j) for j in live]})
        datasets_repo.delete_dataset(cur, dataset_id)
        events.record_event(cur, events.DATASET_DELETED, subject_id=dataset_id, owner_id=dataset.owner_id,
                            data={'by': str(actor.id), 'name': dataset.name})
    files.remove_quietly(files.storage_path(settings, dataset.store_path))
    return dataset


def _visible(cur, actor: UserRecord, dataset_id: uuid.UUID, for_update: bool = False) -> DatasetRecord:
    dataset = datasets_repo.get_dataset(cur, dataset_id, for_update=for_update)
    if dataset is None or (dataset.owner_id != actor.id and actor.user_type not in ADMIN_TYPES):
        raise NotFoundError('no such dataset', resource='dataset', id=dataset_id)
    return dataset
