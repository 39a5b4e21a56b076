"""Records of train jobs, sub-train jobs, trials and services: frozen rows of the metadata store."""
import dataclasses
import datetime
import uuid
from typing import Optional, Type, TypeVar

T = TypeVar('T')


def from_row(cls: Type[T], row: Optional[dict]) -> Optional[T]:
    """Build a record from a RealDictCursor row (extra columns are ignored)."""
    if row is None:
        return None
    return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class TrainJobRecord:
    id: uuid.UUID
    owner_id: uuid.UUID
    app: str
    app_version: int
    task: str
    budget: dict
    train_dataset_id: Optional[uuid.UUID]
    val_dataset_id: Optional[uuid.UUID]
    train_args: dict
    advisor_config: dict
    status: str
    error: Optional[str]
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime]
    deadline_at: Optional[datetime.datetime]
    stopped_at: Optional[datetime.datetime]
    stop_requested_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class SubTrainJobRecord:
    id: uuid.UUID
    train_job_id: uuid.UUID
    model_id: uuid.UUID
    status: str
    advisor_service_id: Optional[uuid.UUID]
    error: Optional[str]
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime]
    stopped_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    id: uuid.UUID
    sub_train_job_id: uuid.UUID
    no: int
    model_id: uuid.UUID
    status: str
    knobs: dict
    proposal: dict
    score: Optional[float]
    intermediate: list
    worker_id: Optional[str]
    attempt: int
    retry_of: Optional[uuid.UUID]
    params_id: Optional[str]
    error: Optional[str]
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime]
    updated_at: Optional[datetime.datetime]
    stopped_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class ServiceRecord:
    id: uuid.UUID
    service_type: str
    status: str
    job_id: uuid.UUID
    sub_job_id: Optional[uuid.UUID]
    trial_id: Optional[uuid.UUID]
    container_manager: str
    container_service_id: Optional[str]
    container_service_name: Optional[str]
    replicas: int
    gpus: int
    hostname: Optional[str]
    port: Optional[int]
    ext_hostname: Optional[str]
    ext_port: Optional[int]
    info: dict
    restarts: int
    error: Optional[str]
    created_at: datetime.datetime
    started_at: Optional[datetime.datetime]
    stopped_at: Optional[datetime.datetime]


@dataclasses.dataclass(frozen=True)
class TrialLogRecord:
    id: int
    trial_id: uuid.UUID
    time: datetime.datetime
    level: str
    line: dict
