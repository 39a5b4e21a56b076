"""Records: rows of the metadata store as frozen dataclasses.

"Record" is the word for a database row throughout SingaAuto, because "model" already means the
user's ML model. Repositories return records and never raw cursor rows, so the rest of the code
sees typed, immutable values.
"""
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, TypeVar

from singa.objectives import parse_constraints, trial_values
from singa.ranking import DEFAULT_TIE_TOLERANCE

R = TypeVar('R')


def from_row(cls: type[R], row: Optional[dict]) -> Optional[R]:
    """Build a record of ``cls`` from a cursor row (a dict); columns the record lacks are ignored."""
    if row is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


def from_rows(cls: type[R], rows) -> list[R]:
    return [from_row(cls, row) for row in rows]


def where(*conditions: tuple[str, Any]) -> tuple[str, list]:
    """A list query's filter: ``(' WHERE a = %s AND ...', [values])`` from ``(sql, value)`` pairs,
    leaving out those whose value is None; ``('', [])`` when none is left."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    if not used:
        return '', []
    return ' WHERE ' + ' AND '.join(sql for sql, _ in used), [value for _, value in used]


@dataclass(frozen=True)
class UserRecord:
    id: uuid.UUID
    email: str
    password_hash: str
    user_type: str
    created_at: datetime
    banned_at: Optional[datetime] = None
    token_epoch: int = 0

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None


@dataclass(frozen=True)
class DatasetRecord:
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    task: str
    store_path: str          # relative to storage_dir
    file_name: str           # as uploaded; display only
    size_bytes: int
    stat: dict
    created_at: datetime


@dataclass(frozen=True)
class ModelRecord:
    """A model template. ``file_bytes`` is only loaded by the queries that need it."""
    id: uuid.UUID
    owner_id: uuid.UUID
    name: str
    task: str
    model_class: str
    file_kind: str           # 'py' or 'zip'
    file_name: str           # the module file (inside the zip for 'zip')
    file_sha256: str         # of the file as uploaded; workers refuse a stored copy that differs
    store_path: str          # relative to storage_dir
    dependencies: list
    docker_image: Optional[str]
    access_right: str
    description: str
    knob_config: Any
    created_at: datetime
    deleted_at: Optional[datetime] = None
    checkpoint_params_id: Optional[str] = None   # trained parameters uploaded with it (param store id)
    checkpoint_bytes: int = 0
    env_key: Optional[str] = None   # its dependencies' environment, <storage>/envs/<key> (singa.envs)
    score_counts_examples: bool = True   # evaluate() scores a share of examples (BaseModel's declaration)
    file_bytes: Optional[bytes] = None


@dataclass(frozen=True)
class EventRecord:
    id: int
    time: datetime
    kind: str
    job_id: Optional[uuid.UUID]
    subject_id: Optional[uuid.UUID]
    data: dict
    owner_id: Optional[uuid.UUID] = None      # whose event it is (their audit log, their webhooks)
    actor_id: Optional[uuid.UUID] = None      # who caused it; None: the platform itself


@dataclass(frozen=True)
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
    created_at: datetime
    started_at: Optional[datetime]
    deadline_at: Optional[datetime]
    stopped_at: Optional[datetime]
    stop_requested_at: Optional[datetime]
    resumed_at: Optional[datetime] = None
    tie_tolerance: float = DEFAULT_TIE_TOLERANCE     # how far below the best score a trial ties (singa.ranking)

    @property
    def constraints(self) -> tuple:
        """The job's constraints (``singa.objectives.Constraint``): its "best" trials meet them."""
        return parse_constraints((self.advisor_config or {}).get('constraints'))


@dataclass(frozen=True)
class SubTrainJobRecord:
    id: uuid.UUID
    train_job_id: uuid.UUID
    model_id: uuid.UUID
    status: str
    advisor_service_id: Optional[uuid.UUID]
    error: Optional[str]
    created_at: datetime
    started_at: Optional[datetime]
    stopped_at: Optional[datetime]
    run_start_no: int = 1


@dataclass(frozen=True)
class EnqueuedTrialRecord:
    id: uuid.UUID
    sub_train_job_id: uuid.UUID
    knobs: dict
    created_by: Optional[uuid.UUID]
    created_at: datetime
    trial_id: Optional[uuid.UUID]
    error: Optional[str]


@dataclass(frozen=True)
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
    created_at: datetime
    started_at: Optional[datetime]
    updated_at: Optional[datetime]
    stopped_at: Optional[datetime]
    params_bytes: Optional[int] = None
    metrics: Optional[dict] = None

    @property
    def values(self) -> dict:
        """Every known figure of the trial by name (``singa.objectives.trial_values``)."""
        return trial_values(self.score, self.metrics, self.params_bytes)


@dataclass(frozen=True)
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
    created_at: datetime
    started_at: Optional[datetime]
    stopped_at: Optional[datetime]

    @property
    def served_id(self) -> str:
        """What an inference service serves, as the serving channel names it: its trial, or for a
        checkpoint job the template (its id)."""
        return str(self.trial_id or self.info.get('model_id'))


@dataclass(frozen=True)
class TrialLogRecord:
    id: int
    trial_id: uuid.UUID
    time: datetime
    level: str
    line: dict


@dataclass(frozen=True)
class InferenceJobRecord:
    """An inference job serves trials of a train job, or (``model_id``) a template's checkpoint."""
    id: uuid.UUID
    owner_id: uuid.UUID
    train_job_id: Optional[uuid.UUID]
    status: str
    budget: dict
    config: dict
    is_public: bool
    description: str
    predictor_service_id: Optional[uuid.UUID]
    error: Optional[str]
    created_at: datetime
    started_at: Optional[datetime]
    stopped_at: Optional[datetime]
    model_id: Optional[uuid.UUID] = None

    @property
    def is_checkpoint(self) -> bool:
        return self.model_id is not None


@dataclass(frozen=True)
class PredictionKeyRecord:
    id: uuid.UUID
    inference_job_id: uuid.UUID
    name: str
    key_hash: str
    created_at: datetime
    revoked_at: Optional[datetime]


@dataclass(frozen=True)
class LoginFailureRecord:
    scope: str                          # 'account' or 'address'
    subject: str                        # the lower-cased email, or the client address
    failures: int                       # failed logins in a row
    last_failed_at: datetime
    locked_until: Optional[datetime]


@dataclass(frozen=True)
class IdempotentRequestRecord:
    user_id: uuid.UUID
    key: str
    fingerprint: str
    status: Optional[int]               # None while the first request is being processed
    body: Optional[bytes]
    content_type: Optional[str]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class WebhookRecord:
    id: uuid.UUID
    owner_id: uuid.UUID
    url: str
    kinds: list
    description: str
    secret_salt: str
    created_at: datetime


@dataclass(frozen=True)
class WebhookDeliveryRecord:
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: int
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    claimed_until: Optional[datetime] = None
    last_error: Optional[str] = None
    finished_at: Optional[datetime] = None
    event_kind: Optional[str] = None          # read with the delivery, not a column of its own


@dataclass(frozen=True)
class WebhookAttemptRecord:
    id: int
    delivery_id: uuid.UUID
    attempt: int
    time: datetime
    duration_ms: float
    status_code: Optional[int] = None
    error: Optional[str] = None


@dataclass(frozen=True)
class QuotaRecord:
    """One user's limits as an admin set them; None: the platform's default, -1: no limit."""
    user_id: uuid.UUID
    running_jobs: Optional[int] = None
    workers: Optional[int] = None
    gpus: Optional[int] = None
    stored_bytes: Optional[int] = None
    updated_at: Optional[datetime] = None
    updated_by: Optional[uuid.UUID] = None
