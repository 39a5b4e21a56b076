"""The ``datasets`` table."""
import uuid
from typing import Optional

from singa.constants import TrainJobStatus
from singa.meta_store.records import DatasetRecord, from_row, from_rows


def insert_dataset(cur, *, dataset_id: uuid.UUID, owner_id: uuid.UUID, name: str, task: str,
                   store_path: str, file_name: str, size_bytes: int, stat: dict) -> DatasetRecord:
    cur.execute('INSERT INTO datasets (id, owner_id, name, task, store_path, file_name, size_bytes, stat) '
                'VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *',
                (dataset_id, owner_id, name, task, store_path, file_name, size_bytes, stat))
    return from_row(DatasetRecord, cur.fetchone())


def get_dataset(cur, dataset_id: uuid.UUID, *, for_update: bool = False) -> Optional[DatasetRecord]:
    cur.execute('SELECT * FROM datasets WHERE id = %s' + (' FOR UPDATE' if for_update else ''),
                (dataset_id,))
    return from_row(DatasetRecord, cur.fetchone())


def list_datasets(cur, owner_id: uuid.UUID, task: Optional[str] = None) -> list[DatasetRecord]:
    cur.execute('SELECT * FROM datasets WHERE owner_id = %s AND (%s::text IS NULL OR task = %s) '
                'ORDER BY created_at, name', (owner_id, task, task))
    return from_rows(DatasetRecord, cur.fetchall())


def live_train_jobs_using_dataset(cur, dataset_id: uuid.UUID) -> list[uuid.UUID]:
    """Ids of train jobs still STARTED, RUNNING or STOPPING that train or validate on the dataset."""
    cur.execute('SELECT id FROM train_jobs WHERE (train_dataset_id = %s OR val_dataset_id = %s) '
                'AND status = ANY(%s) ORDER BY created_at',
                (dataset_id, dataset_id, list(TrainJobStatus.LIVE)))
    return [row['id'] for row in cur.fetchall()]


def delete_dataset(cur, dataset_id: uuid.UUID) -> None:
    cur.execute('DELETE FROM datasets WHERE id = %s', (dataset_id,))
