"""Names shared by every part of SingaAuto: roles, statuses, tasks, budget keys.

All are ``str`` enums, so a member compares equal to its value and serialises to JSON as-is.
A status enum also names its sets (``TrialStatus.FINISHED``, ``TrainJobStatus.LIVE``): tuples
of members, which work with ``in`` and as a PostgreSQL array. Which status may follow which, and
why a job ends, is ``singa.lifecycle``'s.
"""
from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return self.value

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]

    @classmethod
    def parse(cls, value, field: str = None):
        """Return the member named by ``value`` or raise ``InvalidRequestError`` listing the valid ones."""
        try:
            return cls(value)
        except ValueError:
            from singa.errors import InvalidRequestError
            name = field or cls.__name__
            raise InvalidRequestError(
                f'{name} must be one of {", ".join(cls.values())}; got {value!r}', field=field)


class _Members:
    """A set of an enum's members named in its body, ``LIVE = _Members('STARTED', 'RUNNING')``:
    a descriptor, so the enum does not take it for a member; read, it is a tuple of members."""

    def __init__(self, *names: str):
        self.names = names

    def __get__(self, instance, owner) -> tuple:
        return tuple(owner[name] for name in self.names)


class UserType(StrEnum):
    SUPERADMIN = 'SUPERADMIN'
    ADMIN = 'ADMIN'
    MODEL_DEVELOPER = 'MODEL_DEVELOPER'
    APP_DEVELOPER = 'APP_DEVELOPER'


ADMIN_TYPES = (UserType.SUPERADMIN, UserType.ADMIN)


class Task(StrEnum):
    """SingaAuto's task names; what each means is its module in ``singa.tasks``."""
    IMAGE_CLASSIFICATION = 'IMAGE_CLASSIFICATION'
    TABULAR_CLASSIFICATION = 'TABULAR_CLASSIFICATION'
    TABULAR_REGRESSION = 'TABULAR_REGRESSION'
    POS_TAGGING = 'POS_TAGGING'
    IMAGE_DETECTION = 'IMAGE_DETECTION'


class ModelAccessRight(StrEnum):
    PUBLIC = 'PUBLIC'
    PRIVATE = 'PRIVATE'


class BudgetKey(StrEnum):
    TIME_HOURS = 'TIME_HOURS'
    MODEL_TRIAL_COUNT = 'MODEL_TRIAL_COUNT'
    GPU_COUNT = 'GPU_COUNT'
    # Train workers per model on hosts without GPUs (SingaAuto always ran exactly one).
    WORKERS_PER_MODEL = 'WORKERS_PER_MODEL'
    # At most this many trials running at once across all the job's templates (default: no cap
    # but the workers: one trial per train worker).
    MAX_CONCURRENT_TRIALS = 'MAX_CONCURRENT_TRIALS'


class TrainJobStatus(StrEnum):
    STARTED = 'STARTED'
    RUNNING = 'RUNNING'
    STOPPING = 'STOPPING'
    STOPPED = 'STOPPED'
    ERRORED = 'ERRORED'

    LIVE = _Members('STARTED', 'RUNNING', 'STOPPING')
    FINISHED = _Members('STOPPED', 'ERRORED')


class TrialStatus(StrEnum):
    PENDING = 'PENDING'
    RUNNING = 'RUNNING'
    COMPLETED = 'COMPLETED'
    PRUNED = 'PRUNED'
    ERRORED = 'ERRORED'
    STOPPED = 'STOPPED'

    LIVE = _Members('PENDING', 'RUNNING')
    FINISHED = _Members('COMPLETED', 'PRUNED', 'ERRORED', 'STOPPED')


class InferenceJobStatus(StrEnum):
    STARTED = 'STARTED'
    RUNNING = 'RUNNING'
    STOPPED = 'STOPPED'
    ERRORED = 'ERRORED'

    LIVE = _Members('STARTED', 'RUNNING')
    FINISHED = _Members('STOPPED', 'ERRORED')


class ServiceType(StrEnum):
    ADVISOR = 'ADVISOR'
    TRAIN = 'TRAIN'
    INFERENCE = 'INFERENCE'
    PREDICT = 'PREDICT'


class ServiceStatus(StrEnum):
    STARTED = 'STARTED'        # row created, container service not yet created
    DEPLOYING = 'DEPLOYING'    # container service created, not yet seen running
    RUNNING = 'RUNNING'
    STOPPED = 'STOPPED'
    ERRORED = 'ERRORED'

    LIVE = _Members('STARTED', 'DEPLOYING', 'RUNNING')
    FINISHED = _Members('STOPPED', 'ERRORED')


class ContainerManagerType(StrEnum):
    PROCESS = 'process'
    SWARM = 'swarm'


class AdvisorType(StrEnum):
    AUTO = 'AUTO'
    FIXED = 'FIXED'        # nothing to search: exactly one trial
    TPE = 'TPE'
    RANDOM = 'RANDOM'
    GRID = 'GRID'
    CMAES = 'CMAES'
    GP = 'GP'


class PrunerType(StrEnum):
    NONE = 'NONE'
    MEDIAN = 'MEDIAN'
    SUCCESSIVE_HALVING = 'SUCCESSIVE_HALVING'
    HYPERBAND = 'HYPERBAND'


class EnsembleMethod(StrEnum):
    AUTO = 'AUTO'
    MEAN = 'MEAN'
    VOTE = 'VOTE'
    WEIGHTED_MEAN = 'WEIGHTED_MEAN'


class EventKind(StrEnum):
    """What the events table records (the audit log and what webhooks receive)."""
    USER_CREATED = 'user_created'
    USER_BANNED = 'user_banned'
    USER_UNBANNED = 'user_unbanned'
    USER_PASSWORD_CHANGED = 'user_password_changed'
    QUOTA_CHANGED = 'quota_changed'
    DATASET_CREATED = 'dataset_created'
    DATASET_DELETED = 'dataset_deleted'
    MODEL_CREATED = 'model_created'
    MODEL_DELETED = 'model_deleted'
    TRAIN_JOB_CREATED = 'train_job_created'
    TRAIN_JOB_STARTED = 'train_job_started'
    TRAIN_JOB_STOP_REQUESTED = 'train_job_stop_requested'
    TRAIN_JOB_STOPPED = 'train_job_stopped'
    TRAIN_JOB_ERRORED = 'train_job_errored'
    TRAIN_JOB_RESUMED = 'train_job_resumed'
    TRAIN_JOB_BUDGET_CHANGED = 'train_job_budget_changed'
    SUB_TRAIN_JOB_ENDED = 'sub_train_job_ended'
    TRIAL_COMPLETED = 'trial_completed'
    TRIAL_ERRORED = 'trial_errored'
    TRIAL_LOST = 'trial_lost'
    TRIAL_ENQUEUED = 'trial_enqueued'
    BEST_SCORE_IMPROVED = 'best_score_improved'
    INFERENCE_JOB_CREATED = 'inference_job_created'
    INFERENCE_JOB_READY = 'inference_job_ready'
    INFERENCE_JOB_STOPPED = 'inference_job_stopped'
    INFERENCE_JOB_ERRORED = 'inference_job_errored'
    SERVICE_REPLACED = 'service_replaced'
    WEBHOOK_CREATED = 'webhook_created'
    WEBHOOK_DELETED = 'webhook_deleted'


# The most queries one prediction request may carry (the predictor's limit, which the admin's
# playground documents and checks too).
MAX_PREDICT_QUERIES = 1000
