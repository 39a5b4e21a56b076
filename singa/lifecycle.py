"""The lifecycle of train and inference jobs: every rule about their statuses lives here.

Three writers move a train job: the admin's services (create, stop, resume), the advisor of each sub-job
(its search ends) and the reconciler (what workers could not finish). An inference job is moved by
the admin's services and the reconciler. Each of them calls this module, and none keeps a rule of
its own:

- **transitions**: which status may follow which (``TRAIN_JOB``, ``SUB_TRAIN_JOB``,
  ``INFERENCE_JOB``). An update from a status that may not move there changes nothing, in SQL, so
  concurrent writers never undo each other: the first end wins;
- **end causes**: why a job or sub-job ends, as an ``EndCause``, never as a message string, and
  the status each cause leaves it in (``JobEnd``);
- **roll-ups**: a train job's status from its sub-jobs', an inference job's from its services'.

Functions that write take the cursor of a ``store.transaction()``, so a change and the event that
records it are committed together.
"""
import dataclasses
import datetime
from typing import Optional

from singa.constants import InferenceJobStatus, ServiceStatus, StrEnum, TrainJobStatus, TrialStatus
from singa.errors import ConflictError
from singa.meta_store import events, inference_jobs, train_jobs, trials

# -- the state machines ---------------------------------------------------------------------------

_T, _I = TrainJobStatus, InferenceJobStatus
# An ended train job (and its sub-jobs) starts again only when its owner resumes it (``resume_train_job``).
TRAIN_JOB = {
    _T.STARTED: (_T.RUNNING, _T.STOPPING, _T.STOPPED, _T.ERRORED),
    _T.RUNNING: (_T.STOPPING, _T.STOPPED, _T.ERRORED),
    _T.STOPPING: (_T.STOPPED, _T.ERRORED),
    _T.STOPPED: (_T.STARTED,),
    _T.ERRORED: (_T.STARTED,),
}
# A sub-job is never STOPPING: its advisor ends it as soon as it is told to stop.
SUB_TRAIN_JOB = {
    _T.STARTED: (_T.RUNNING, _T.STOPPED, _T.ERRORED),
    _T.RUNNING: (_T.STOPPED, _T.ERRORED),
    _T.STOPPED: (_T.STARTED,),
    _T.ERRORED: (_T.STARTED,),
}
INFERENCE_JOB = {
    _I.STARTED: (_I.RUNNING, _I.STOPPED, _I.ERRORED),
    _I.RUNNING: (_I.STOPPED, _I.ERRORED),
    _I.STOPPED: (),
    _I.ERRORED: (),
}


def sources(machine: dict, target) -> list[str]:
    """The statuses of ``machine`` from which ``target`` may be reached (as SQL wants them)."""
    return [status.value for status, targets in machine.items() if target in targets]


# -- why jobs end ---------------------------------------------------------------------------------

class EndCause(StrEnum):
    """Why a sub-job, a train job or an inference job ended."""
    USER_STOP = 'USER_STOP'                  # its owner or an admin stopped it
    BUDGET_LOWERED = 'BUDGET_LOWERED'        # its owner lowered its budget below what it had spent
    OWNER_BANNED = 'OWNER_BANNED'            # a public inference job of a banned owner
    TIME_BUDGET = 'TIME_BUDGET'
    TRIAL_BUDGET = 'TRIAL_BUDGET'
    SEARCH_EXHAUSTED = 'SEARCH_EXHAUSTED'    # the advisor has nothing left to propose
    TRIALS_FAILING = 'TRIALS_FAILING'        # trials kept failing and none completed
    UNSEARCHABLE = 'UNSEARCHABLE'            # the advisor cannot search the template's knob space
    ADVISOR_FAILED = 'ADVISOR_FAILED'
    WORKERS_FAILED = 'WORKERS_FAILED'        # every train or inference worker kept failing
    PREDICTOR_FAILED = 'PREDICTOR_FAILED'
    DEPLOY_FAILED = 'DEPLOY_FAILED'          # its services could not be started

    @property
    def text(self) -> str:
        return _TEXT[self]

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES


_TEXT = {
    EndCause.USER_STOP: 'stopped by user',
    EndCause.BUDGET_LOWERED: 'budget lowered below what was spent',
    EndCause.OWNER_BANNED: 'its owner was banned',
    EndCause.TIME_BUDGET: 'time budget reached',
    EndCause.TRIAL_BUDGET: 'trial budget reached',
    EndCause.SEARCH_EXHAUSTED: 'search space exhausted',
    EndCause.TRIALS_FAILING: 'trials kept failing',
    EndCause.UNSEARCHABLE: 'the advisor cannot search this template',
    EndCause.ADVISOR_FAILED: 'its advisor kept failing',
    EndCause.WORKERS_FAILED: 'every worker kept failing',
    EndCause.PREDICTOR_FAILED: 'the predictor kept failing',
    EndCause.DEPLOY_FAILED: 'its services could not be started',
}
_FAILURES = frozenset({EndCause.TRIALS_FAILING, EndCause.UNSEARCHABLE, EndCause.ADVISOR_FAILED,
                       EndCause.WORKERS_FAILED, EndCause.PREDICTOR_FAILED, EndCause.DEPLOY_FAILED})


@dataclasses.dataclass(frozen=True)
class JobEnd:
    """An end: its cause and, optionally, what more there is to say (the last error, ...)."""
    cause: EndCause
    detail: str = ''

    @property
    def reason(self) -> str:
        return f'{self.cause.text}: {self.detail}' if self.detail else self.cause.text

    def sub_job_outcome(self, completed: int) -> tuple[TrainJobStatus, Optional[str]]:
        """(status, error) of a sub-job that ends so with ``completed`` trials completed.

        A stop by the user (or a budget the user lowered below what was spent) is never an
        error. Otherwise a sub-job with a completed trial has
        something to deploy and is STOPPED (a failure keeps its reason as the error); one with
        none is ERRORED."""
        if self.cause in (EndCause.USER_STOP, EndCause.BUDGET_LOWERED):
            return TrainJobStatus.STOPPED, None
        if completed > 0:
            return TrainJobStatus.STOPPED, self.reason if self.cause.is_failure else None
        if self.cause.is_failure:
            return TrainJobStatus.ERRORED, self.reason
        return TrainJobStatus.ERRORED, f'no trial completed ({self.reason})'

    def inference_job_status(self) -> InferenceJobStatus:
        return InferenceJobStatus.ERRORED if self.cause.is_failure else InferenceJobStatus.STOPPED


# -- train jobs -----------------------------------------------------------------------------------

def start_sub_job(cur, sub_job_id, train_job_id) -> None:
    """Its advisor runs: the sub-job is RUNNING, and so is its job."""
    train_jobs.set_sub_train_job_status(cur, sub_job_id, TrainJobStatus.RUNNING,
                                        allowed_from=sources(SUB_TRAIN_JOB, TrainJobStatus.RUNNING))
    roll_up_train_job(cur, train_job_id)


def end_sub_job(cur, sub_job_id, end: JobEnd, *, by: str) -> Optional[TrainJobStatus]:
    """End a sub-job (its trials still live end STOPPED) and roll its job up.

    Returns the status it ended with, or None if it had already ended. ``by`` names the writer,
    for the event that records it."""
    sub = train_jobs.get_sub_train_job(cur, sub_job_id, for_update=True)
    if sub is None or sub.status in TrainJobStatus.FINISHED:
        return None
    trials.stop_live_trials(cur, sub_job_id=sub_job_id, error=end.reason)
    completed = trials.count_trials(cur, sub_job_id, TrialStatus.COMPLETED)
    status, error = end.sub_job_outcome(completed)
    train_jobs.set_sub_train_job_status(cur, sub_job_id, status, error=error,
                                        allowed_from=sources(SUB_TRAIN_JOB, status))
    events.record_event(cur, events.SUB_TRAIN_JOB_ENDED, job_id=sub.train_job_id, subject_id=sub_job_id,
                        data={'status': status.value, 'cause': end.cause.value, 'reason': end.reason,
                              'trials_completed': completed, 'by': by})
    roll_up_train_job(cur, sub.train_job_id)
    return status


def end_train_job(cur, train_job_id, end: JobEnd, *, by: str) -> None:
    """End every sub-job of a job still live with ``end``; the job rolls up with them."""
    for sub in train_jobs.list_sub_train_jobs(cur, train_job_id):
        if sub.status not in TrainJobStatus.FINISHED:
            end_sub_job(cur, sub.id, end, by=by)
    roll_up_train_job(cur, train_job_id)


def request_stop(cur, train_job_id, actor_id) -> list:
    """A user asks to stop a job: it is STOPPING (the first time; the event records that one).
    Returns its sub-jobs still live, whose advisors are to be told, again if it was asked before
    (a stop message lost with a Redis that lost its data is then sent once more)."""
    job = train_jobs.get_train_job(cur, train_job_id, for_update=True)
    if job is None or job.status in TrainJobStatus.FINISHED:
        return []
    if job.status != TrainJobStatus.STOPPING:
        train_jobs.request_stop(cur, train_job_id, allowed_from=sources(TRAIN_JOB, TrainJobStatus.STOPPING))
        events.record_event(cur, events.TRAIN_JOB_STOP_REQUESTED, job_id=train_job_id, subject_id=train_job_id,
                            actor_id=actor_id, data={'by': str(actor_id)})
    return [s.id for s in train_jobs.list_sub_train_jobs(cur, train_job_id)
            if s.status not in TrainJobStatus.FINISHED]


def resume_train_job(cur, job, budget: dict, time_budget_seconds: float, actor_id) -> list:
    """Start an ended job (``job``, its record read under a row lock) again with a new budget: it
    and every sub-job are STARTED again, the deadline counts from now, and each sub-job's current
    run starts after its last trial. Returns the sub-jobs, whose advisors are to be deployed anew.
    ``ConflictError`` for a job that has not ended."""
    if job.status not in TrainJobStatus.FINISHED:
        raise ConflictError(f'train job {job.app} v{job.app_version} is {job.status}; stop it first, or change '
                            'its budget while it runs', resource='train_job', id=job.id)
    if not train_jobs.restart_train_job(cur, job.id, budget, time_budget_seconds,
                                        allowed_from=sources(TRAIN_JOB, TrainJobStatus.STARTED)):
        raise ConflictError('the train job changed meanwhile; try again', resource='train_job', id=job.id)
    subs = train_jobs.list_sub_train_jobs(cur, job.id)
    for sub in subs:
        train_jobs.restart_sub_train_job(cur, sub.id, allowed_from=sources(SUB_TRAIN_JOB, TrainJobStatus.STARTED))
    events.record_event(cur, events.TRAIN_JOB_RESUMED, job_id=job.id, subject_id=job.id, actor_id=actor_id,
                        data={'app': job.app, 'app_version': job.app_version, 'budget': budget,
                              'previous_status': job.status})
    return subs


def roll_up_train_job(cur, train_job_id) -> Optional[TrainJobStatus]:
    """Derive a job's status from its sub-jobs' (under a row lock); return the status set, if any.

    RUNNING once a sub-job runs; when every sub-job has ended, ERRORED (with their reasons) if
    all errored, else STOPPED. A job being stopped stays STOPPING until its sub-jobs have ended."""
    job = train_jobs.get_train_job(cur, train_job_id, for_update=True)
    if job is None or job.status in TrainJobStatus.FINISHED:
        return None
    subs = train_jobs.list_sub_train_jobs(cur, train_job_id)
    if any(s.status not in TrainJobStatus.FINISHED for s in subs):
        if job.status == TrainJobStatus.STARTED and any(s.status == TrainJobStatus.RUNNING for s in subs):
            return _move_train_job(cur, train_job_id, TrainJobStatus.RUNNING)
        return None
    if subs and all(s.status == TrainJobStatus.ERRORED for s in subs):
        reasons = '; '.join(sorted({s.error or 'unknown error' for s in subs}))
        return _move_train_job(cur, train_job_id, TrainJobStatus.ERRORED, error=reasons)
    return _move_train_job(cur, train_job_id, TrainJobStatus.STOPPED)


def _move_train_job(cur, train_job_id, status: TrainJobStatus, error: Optional[str] = None) -> Optional[TrainJobStatus]:
    moved = train_jobs.set_train_job_status(cur, train_job_id, status, error=error,
                                            allowed_from=sources(TRAIN_JOB, status))
    return status if moved else None


def overdue_cause(job, now: datetime.datetime, stop_grace_seconds: float,
                  deadline_margin_seconds: float) -> Optional[EndCause]:
    """Why a live job its workers did not end must be ended by the admin, if it must: a stop not
    honoured within the grace period, or a deadline long past (grace and margin included)."""
    grace = datetime.timedelta(seconds=stop_grace_seconds)
    if job.status == TrainJobStatus.STOPPING and job.stop_requested_at and now - job.stop_requested_at > grace:
        return EndCause.USER_STOP
    margin = grace + datetime.timedelta(seconds=deadline_margin_seconds)
    if job.deadline_at is not None and now - job.deadline_at > margin:
        return EndCause.TIME_BUDGET
    return None


# -- inference jobs -------------------------------------------------------------------------------

def end_inference_job(cur, job_id, end: JobEnd, *, actor_id=None) -> bool:
    """End a live inference job (STOPPED, or ERRORED for a failure); False if it had ended. The
    event that records it says why (``actor_id``: the user who stopped it, if one did)."""
    status = end.inference_job_status()
    return inference_jobs.set_inference_job_status(cur, job_id, status, allowed_from=sources(INFERENCE_JOB, status),
                                                   error=end.reason if end.cause.is_failure else None,
                                                   actor_id=actor_id,
                                                   event_data={'cause': end.cause.value, 'reason': end.reason})


def roll_up_inference_job(cur, job, predictor, workers: list, live_served_ids: set,
                          predictor_healthy: bool = True) -> Optional[JobEnd]:
    """Derive a live inference job's status from its services (``predictor`` and ``workers`` are
    their records; ``live_served_ids``: what the models with a live replica serve, a trial's id or a
    checkpoint job's template id, ``ServiceRecord.served_id``). Returns the end when its services are beyond repair (the job has then ended,
    and its services are to be removed); it is RUNNING once the predictor runs and says it is
    healthy and every model answers (a model given up on no longer holds the job back)."""
    end = None
    if predictor is None or predictor.status == ServiceStatus.ERRORED:
        end = JobEnd(EndCause.PREDICTOR_FAILED)
    elif workers and all(s.status == ServiceStatus.ERRORED for s in workers):
        end = JobEnd(EndCause.WORKERS_FAILED)
    if end is not None:
        end_inference_job(cur, job.id, end)
        return end
    waiting = [s for s in workers if s.status != ServiceStatus.ERRORED and s.served_id not in live_served_ids]
    if job.status == InferenceJobStatus.STARTED and predictor.status == ServiceStatus.RUNNING \
            and predictor_healthy and live_served_ids and not waiting:
        inference_job_ready(cur, job.id)
    return None


def inference_job_ready(cur, job_id) -> bool:
    """A job whose models and predictor answer is RUNNING (once: False if it was not STARTED)."""
    return inference_jobs.set_inference_job_status(cur, job_id, InferenceJobStatus.RUNNING,
                                                   allowed_from=sources(INFERENCE_JOB, InferenceJobStatus.RUNNING))
