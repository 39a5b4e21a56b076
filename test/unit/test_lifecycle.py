"""The rules of ``singa.lifecycle`` that need no database: transitions, end causes, overdue jobs."""
import datetime
from types import SimpleNamespace

import pytest

from singa import lifecycle
from singa.constants import InferenceJobStatus, TrainJobStatus, TrialStatus
from singa.lifecycle import EndCause, JobEnd

T = TrainJobStatus


def test_status_sets_are_on_the_enums():
    assert set(TrainJobStatus.LIVE) | set(TrainJobStatus.FINISHED) == set(TrainJobStatus)
    assert set(TrialStatus.LIVE) | set(TrialStatus.FINISHED) == set(TrialStatus)
    assert set(InferenceJobStatus.LIVE) | set(InferenceJobStatus.FINISHED) == set(InferenceJobStatus)
    assert 'RUNNING' in TrialStatus.LIVE and 'COMPLETED' not in TrialStatus.LIVE     # plain strings too
    assert 'LIVE' not in TrainJobStatus.__members__


@pytest.mark.parametrize('machine', [lifecycle.TRAIN_JOB, lifecycle.SUB_TRAIN_JOB, lifecycle.INFERENCE_JOB])
def test_finished_statuses_are_final_but_for_a_resume_and_every_status_is_reachable(machine):
    enum = type(next(iter(machine)))
    for status in enum.FINISHED:   # a train job and its sub-jobs are STARTED again by a resume only
        assert machine[status] == (() if machine is lifecycle.INFERENCE_JOB else (enum.STARTED,))
    reachable = {target for targets in machine.values() for target in targets} | {enum.STARTED}
    assert reachable == set(machine)


def test_sources_are_the_statuses_a_target_may_follow():
    assert lifecycle.sources(lifecycle.TRAIN_JOB, T.STOPPING) == ['STARTED', 'RUNNING']
    assert lifecycle.sources(lifecycle.TRAIN_JOB, T.STOPPED) == ['STARTED', 'RUNNING', 'STOPPING']
    assert lifecycle.sources(lifecycle.SUB_TRAIN_JOB, T.RUNNING) == ['STARTED']


@pytest.mark.parametrize('end, completed, status, error', [
    (JobEnd(EndCause.USER_STOP), 0, T.STOPPED, None),                 # a stop is never an error
    (JobEnd(EndCause.USER_STOP), 3, T.STOPPED, None),
    (JobEnd(EndCause.TRIAL_BUDGET), 5, T.STOPPED, None),
    (JobEnd(EndCause.TIME_BUDGET), 0, T.ERRORED, 'no trial completed (time budget reached)'),
    (JobEnd(EndCause.TRIALS_FAILING, '5 in a row'), 0, T.ERRORED, 'trials kept failing: 5 in a row'),
    (JobEnd(EndCause.ADVISOR_FAILED), 2, T.STOPPED, 'its advisor kept failing'),   # keeps what completed
    (JobEnd(EndCause.ADVISOR_FAILED), 0, T.ERRORED, 'its advisor kept failing'),
])
def test_a_sub_job_ends_by_one_rule_whoever_ends_it(end, completed, status, error):
    assert end.sub_job_outcome(completed) == (status, error)


def test_inference_jobs_end_stopped_unless_they_failed():
    assert JobEnd(EndCause.USER_STOP).inference_job_status() == InferenceJobStatus.STOPPED
    assert JobEnd(EndCause.OWNER_BANNED).inference_job_status() == InferenceJobStatus.STOPPED
    assert JobEnd(EndCause.PREDICTOR_FAILED).inference_job_status() == InferenceJobStatus.ERRORED


def test_every_cause_says_what_it_is():
    assert all(cause.text for cause in EndCause)


def test_overdue_jobs():
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    seconds = datetime.timedelta(seconds=1)

    def job(status, stop_requested=None, deadline=None):
        return SimpleNamespace(status=status, stop_requested_at=stop_requested, deadline_at=deadline)

    assert lifecycle.overdue_cause(job(T.STOPPING, now - 31 * seconds), now, 30, 60) == EndCause.USER_STOP
    assert lifecycle.overdue_cause(job(T.STOPPING, now - 29 * seconds), now, 30, 60) is None
    assert lifecycle.overdue_cause(job(T.RUNNING, deadline=now - 91 * seconds), now, 30, 60) == EndCause.TIME_BUDGET
    assert lifecycle.overdue_cause(job(T.RUNNING, deadline=now - 89 * seconds), now, 30, 60) is None
    assert lifecycle.overdue_cause(job(T.RUNNING), now, 30, 60) is None
