"""The tuning protocol's messages own their JSON form; a malformed one is dropped, never half read."""
import json

import pytest

from singa.queues import base, tuning
from singa.constants import TrialStatus
from singa.lifecycle import EndCause
from singa.queues import (Bye, Finished, Hello, JobSpec, Logs, Propose, Report, ReportReply, Stop, StopSubJob,
                          TrialAssignment, TrialResult, Wait, WorkerLost)

RESULT = TrialResult(trial_id='t1', status=TrialStatus.COMPLETED, score=0.75, params_id='p1',
                     logs=[{'type': 'MESSAGE', 'message': 'hi'}], params_bytes=1234)
TO_ADVISOR = [Hello(worker_id='w'), Propose(worker_id='w', service_id='s'), Propose(worker_id='w', finished=RESULT),
              Propose(worker_id='w', finished=RESULT, wants_trial=False),
              Report(worker_id='w', trial_id='t1', step=3, score=0.5), Logs(worker_id='w', trial_id='t1', lines=[]),
              Finished(worker_id='w', result=RESULT), Bye(worker_id='w'), StopSubJob(cause=EndCause.USER_STOP),
              WorkerLost(worker_id='w')]
TO_WORKER = [JobSpec(task='T', model_path='m.py', model_class='M', file_kind='py', module_file=None, model_name='n',
                     file_sha256=None, env=None, train_dataset='a.csv', val_dataset='b.csv', train_args={},
                     heartbeat_seconds=1.0),
             JobSpec(task='T', model_path='m.py', model_class='M', file_kind='py', module_file=None, model_name='n',
                     file_sha256=None, train_dataset='a.csv', val_dataset='b.csv', train_args={},
                     heartbeat_seconds=1.0, max_concurrent_trials=2, lease_seconds=5.0),
             TrialAssignment(trial_id='t', trial_no=1, knobs={'x': 1}, lease_seconds=30.0), Wait(seconds=0.5),
             Stop(reason='done'), ReportReply(prune=True)]


def _wire(message) -> bytes:
    return json.dumps(message.to_dict()).encode()


@pytest.mark.parametrize('message', TO_ADVISOR, ids=lambda m: type(m).__name__)
def test_messages_to_the_advisor_come_back_equal(message):
    assert tuning._read_tuning(_wire(message), tuning._TO_ADVISOR) == message


@pytest.mark.parametrize('message', TO_WORKER, ids=lambda m: type(m).__name__)
def test_replies_come_back_equal(message):
    assert tuning._read_tuning(_wire(message), tuning._TO_WORKER) == message


def test_a_request_keeps_its_req_id_and_each_new_one_gets_its_own():
    first, second = Hello(worker_id='w'), Hello(worker_id='w')
    assert first.req_id != second.req_id
    assert tuning._read_tuning(_wire(first), tuning._TO_ADVISOR).req_id == first.req_id


@pytest.mark.parametrize('raw', [
    b'not json', b'[]', b'{}', b'{"type": "nonsense"}',
    b'{"type": "report", "worker_id": "w", "req_id": "r", "trial_id": "t", "step": "3", "score": 1}',
    b'{"type": "report", "worker_id": "w", "req_id": "r", "trial_id": "t", "step": true, "score": 1}',
    b'{"type": "stop_sub_job", "cause": "because"}',
    b'{"type": "finished", "worker_id": "w", "result": {"trial_id": "t", "status": "GREAT"}}',
    b'{"type": "propose", "worker_id": "w", "finished": []}',
    b'{"type": "bye"}',
])
def test_malformed_messages_are_dropped(raw):
    assert tuning._read_tuning(raw, tuning._TO_ADVISOR) is None


def test_worker_ids_name_their_service_and_task():
    assert tuning.worker_task(tuning.new_worker_id('svc', 'task1')) == ('svc', 'task1')
    service, task = tuning.worker_task(tuning.new_worker_id('svc'))
    assert service == 'svc' and task and task != tuning.worker_task(tuning.new_worker_id('svc'))[1]


def test_blocking_pops_are_bounded_below_the_socket_timeout():
    assert base.SOCKET_TIMEOUT_SECONDS > base.MAX_POP_SECONDS
    for timeout in (0, -1, None, base.MAX_POP_SECONDS + 1):
        with pytest.raises(ValueError):
            base._check_timeout(timeout)
