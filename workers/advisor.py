"""The advisor worker: one per sub-train job. Runs no user code (it reads the knob space as JSON).

It owns the sub-job's search: it answers its train workers' requests over the tuning protocol
(``singa.queues``), records every trial in PostgreSQL, leases each running trial to its worker,
and enforces the budget on the server side:

- the deadline is the job's ``deadline_at``, fixed when the job was created, so a restarted
  advisor keeps it; at the deadline no new trial starts, running trials get
  ``settings.stop_grace_seconds`` to finish, then they are cancelled and recorded STOPPED;
- ``MODEL_TRIAL_COUNT`` counts trials as they are proposed, so it is exact however many workers
  ask at once (retries of a lost trial do not count again);
- a trial whose lease expires (its worker died) is recorded ERRORED, or re-run with the same
  knobs up to the job's ``max_trial_retries``;
- ``stop`` (from the admin) cancels running trials at once and ends the sub-job STOPPED.

On start it rebuilds its search from the trials recorded so far, so a restart resumes the study.
"""
import dataclasses
import logging
import math
import time
import traceback
from typing import Optional

from singa.advisor import PastTrial, make_advisor
from singa.constants import (AdvisorType, BudgetKey, PrunerType, ServiceStatus, TrainJobStatus,
                             TrialStatus)
from singa.errors import SingaError
from singa.meta_store import events, services, train_jobs, trials
from singa.model import deserialize_knob_config
from singa.queues import TuningChannel

log = logging.getLogger(__name__)

MAX_ERRORS_IN_A_ROW = 5
_FINISHED_TRIAL = (TrialStatus.COMPLETED, TrialStatus.PRUNED, TrialStatus.ERRORED, TrialStatus.STOPPED)


@dataclasses.dataclass
class LiveTrial:
    id: str
    no: int
    advisor_no: int
    worker_id: str
    knobs: dict
    proposal: dict
    attempt: int
    last_score: Optional[float] = None


class AdvisorWorker:
    def __init__(self, settings, store, redis_client, stop, clock=time.time):
        self.settings = settings
        self.store = store
        self.r = redis_client
        self.stop = stop
        self.clock = clock
        self.service_id = settings.service_id
        self.running: dict[str, LiveTrial] = {}
        self.retry_queue: list[LiveTrial] = []
        self.params_by_advisor_no: dict[int, str] = {}
        self.last_reply: dict[str, tuple] = {}
        self.seen_services: set = set()
        self.end_reason: Optional[str] = None
        self.end_status = TrainJobStatus.STOPPED.value
        self.errors_in_a_row = 0
        self.completed = 0
        self.trials_started = 0
        self.next_no = 1
        self._next_maintenance = 0.0
        self._next_db_check = 0.0
        self._grace_until: Optional[float] = None

    # -- start -----------------------------------------------------------------------------

    def run(self) -> int:
        """Serve the sub-job until it ends (0) or a warm stop is requested (0, not finalised)."""
        if not self._load():
            return 0
        while not self.stop.is_set():
            if self._finished():
                self._finish()
                return 0
            message = self.channel.receive(timeout=0.2)
            if message is not None:
                self._handle(message)
            self._maintain()
        log.info('warm stop (%s): leaving the sub-job to a restarted advisor', self.stop.reason)
        return 0

    def _load(self) -> bool:
        with self.store.transaction() as cur:
            service = services.get_service(cur, self.service_id)
            if service is None or service.sub_job_id is None:
                raise RuntimeError(f'advisor service {self.service_id} is not recorded')
            spec = train_jobs.sub_job_spec(cur, service.sub_job_id)
            past = trials.list_trials_of_sub_job(cur, service.sub_job_id)
            if spec['sub_job_status'] in (TrainJobStatus.STOPPED, TrainJobStatus.ERRORED):
                services.set_service_status(cur, self.service_id, ServiceStatus.STOPPED.value)
                log.info('sub-job %s already ended', service.sub_job_id)
                return False
            services.set_service_status(cur, self.service_id, ServiceStatus.RUNNING.value)
            train_jobs.set_sub_train_job_status(cur, service.sub_job_id, TrainJobStatus.RUNNING.value)
            train_jobs.roll_up_train_job(cur, spec['train_job_id'])
        self.spec = spec
        self.sub_job_id = spec['sub_job_id']
        self.train_job_id = spec['train_job_id']
        self.channel = TuningChannel(self.r, self.train_job_id, self.sub_job_id)
        budget = spec['budget'] or {}
        config = spec['advisor_config'] or {}
        self.trial_budget = int(budget.get(BudgetKey.MODEL_TRIAL_COUNT, -1) or -1)
        self.deadline = float(spec['deadline']) if spec['deadline'] is not None else math.inf
        self.max_retries = int(config.get('max_trial_retries', self.settings.max_trial_retries))
        try:
            self.advisor = make_advisor(deserialize_knob_config(spec['knob_config']), budget,
                                        advisor_type=config.get('advisor', AdvisorType.AUTO.value),
                                        pruner=config.get('pruner', PrunerType.NONE.value),
                                        seed=config.get('seed'))
        except SingaError as e:
            # A configuration the search cannot run with will not get better on a restart.
            self._request_end(f'the advisor cannot search this template: {e.message}', TrainJobStatus.ERRORED.value)
            self._finish()
            return False
        self._restore(past)
        if spec['job_status'] == TrainJobStatus.STOPPING:
            self._request_end('stopped by user', TrainJobStatus.STOPPED.value)
        return True

    def _restore(self, past) -> None:
        """Rebuild the search from recorded trials; keep trials whose workers still hold a lease.

        Trials recorded RUNNING whose lease is gone lost their worker while no advisor watched:
        they are retried or recorded ERRORED like any lost trial.
        """
        leases = self.channel.live_leases()
        retried = {t.retry_of for t in past if t.retry_of is not None}
        restored, lost = [], []
        for t in past:
            self.next_no = max(self.next_no, t.no + 1)
            if t.retry_of is None:
                self.trials_started += 1
            if t.id in retried:
                continue   # an attempt that was re-run: the study knows its logical trial once
            advisor_no = int(t.proposal.get('advisor_no', t.no))
            restored.append(PastTrial(no=advisor_no, knobs=t.knobs, status=t.status, score=t.score,
                                      intermediate=[tuple(x) for x in t.intermediate],
                                      meta=t.proposal.get('meta', {}), params_saved=bool(t.params_id)))
            if t.status in _FINISHED_TRIAL:
                if t.params_id:
                    self.params_by_advisor_no[advisor_no] = t.params_id
                self.completed += t.status == TrialStatus.COMPLETED
                self.errors_in_a_row = self.errors_in_a_row + 1 if t.status == TrialStatus.ERRORED else 0
                continue
            live = LiveTrial(str(t.id), t.no, advisor_no, t.worker_id, t.knobs, t.proposal, t.attempt)
            if str(t.id) in leases:
                self.running[live.id] = live
            else:
                lost.append(live)
        self.advisor.restore(restored)
        for live in lost:
            self._lose(live, 'its worker was lost while the advisor was down')
        if past:
            log.info('resumed sub-job %s: %d trials recorded, %d still running', self.sub_job_id,
                     len(past), len(self.running))

    # -- messages --------------------------------------------------------------------------

    def _handle(self, message: dict) -> None:
        kind = message.get('type')
        worker_id = str(message.get('worker_id') or '')
        try:
            if kind == 'stop':
                self._request_end(message.get('reason') or 'stopped by user', TrainJobStatus.STOPPED.value)
                self._cancel_all('the job was stopped')
                return
            if not worker_id:
                log.warning('dropped a message without worker id: %.200s', message)
                return
            self._note_service(message.get('service_id'))
            if kind in ('hello', 'propose', 'report'):
                cached = self.last_reply.get(worker_id)
                if cached is not None and cached[0] == message.get('req_id'):
                    self.channel.reply(worker_id, message, dict(cached[1]))   # a resent request
                    return
                reply = getattr(self, f'_on_{kind}')(worker_id, message)
                self.last_reply[worker_id] = (message.get('req_id'), reply)
                self.channel.reply(worker_id, message, dict(reply))
            elif kind == 'finished':
                self._on_finished(worker_id, message.get('result') or {})
            elif kind == 'logs':
                self._on_logs(worker_id, message)
            elif kind == 'bye':
                self.last_reply.pop(worker_id, None)
            else:
                log.warning('dropped a message of unknown type %r', kind)
        except (TypeError, ValueError, KeyError) as e:
            log.warning('dropped a malformed %r message from %s: %s', kind, worker_id, e)

    def _note_service(self, service_id) -> None:
        if service_id and service_id not in self.seen_services:
            self.seen_services.add(service_id)
            with self.store.transaction() as cur:
                service = services.get_service(cur, service_id)
                if service is not None and str(service.sub_job_id) == str(self.sub_job_id):
                    services.set_service_status(cur, service_id, ServiceStatus.RUNNING.value)

    def _on_hello(self, worker_id: str, message: dict) -> dict:
        s = self.spec
        return {'type': 'job', 'task': s['task'], 'train_args': s['train_args'] or {},
                'model': {'path': s['model_path'], 'class': s['model_class'], 'kind': s['file_kind'],
                          'module_file': s['file_name'], 'name': s['model_name'], 'sha256': s['file_sha256'],
                          'env': s['env_key']},
                'train_dataset': s['train_dataset_path'], 'val_dataset': s['val_dataset_path'],
                'lease_seconds': self.settings.trial_lease_seconds,
                'heartbeat_seconds': min(1.0, self.settings.trial_lease_seconds / 3)}

    def _on_propose(self, worker_id: str, message: dict) -> dict:
        if message.get('finished'):
            self._on_finished(worker_id, message['finished'])
        live = self._next_trial(worker_id)
        if live is None:
            if self.end_reason is None:
                return {'type': 'wait', 'seconds': 0.5}
            return {'type': 'stop', 'reason': self.end_reason}
        self.channel.grant_lease(live.id, self.settings.trial_lease_seconds)
        return {'type': 'trial', 'trial_id': live.id, 'trial_no': live.no, 'knobs': live.knobs,
                'meta': live.proposal.get('meta', {}), 'shared_params_id': live.proposal.get('shared_params_id'),
                'to_save_params': live.proposal.get('to_save_params', True),
                'lease_seconds': self.settings.trial_lease_seconds}

    def _next_trial(self, worker_id: str) -> Optional[LiveTrial]:
        if self.end_reason is not None:
            return None
        if self.clock() >= self.deadline:
            self._request_end('time budget reached', TrainJobStatus.STOPPED.value)
            return None
        if self.retry_queue:
            lost = self.retry_queue.pop(0)
            return self._record_trial(worker_id, lost.advisor_no, lost.knobs, lost.proposal,
                                      attempt=lost.attempt + 1, retry_of=lost.id)
        if 0 <= self.trial_budget <= self.trials_started:
            if not (self.running and self.max_retries > 0):
                self._request_end('trial budget reached', TrainJobStatus.STOPPED.value)
            return None   # workers wait: a running trial may still be lost and need a retry
        proposal = self.advisor.propose(self.next_no, now=self.clock())
        if proposal is None:
            if not self.running:
                self._request_end('search space exhausted', TrainJobStatus.STOPPED.value)
            return None
        shared = None
        if proposal.shared_params_trial_no is not None:
            shared = self.params_by_advisor_no.get(proposal.shared_params_trial_no)
        record = {'advisor_no': proposal.trial_no, 'meta': proposal.meta, 'shared_params_id': shared,
                  'to_save_params': proposal.to_save_params}
        self.trials_started += 1
        return self._record_trial(worker_id, proposal.trial_no, proposal.knobs, record)

    def _record_trial(self, worker_id, advisor_no, knobs, proposal, attempt=0, retry_of=None) -> LiveTrial:
        no = self.next_no
        self.next_no += 1
        with self.store.transaction() as cur:
            row = trials.insert_trial(cur, sub_job_id=self.sub_job_id, no=no, model_id=self.spec['model_id'],
                                      knobs=knobs, proposal=proposal, worker_id=worker_id, attempt=attempt,
                                      retry_of=retry_of)
        live = LiveTrial(str(row.id), no, advisor_no, worker_id, knobs, proposal, attempt)
        self.running[live.id] = live
        return live

    def _on_report(self, worker_id: str, message: dict) -> dict:
        live = self._owned(worker_id, message.get('trial_id'))
        if live is None:
            return {'type': 'report', 'prune': True, 'reason': 'the trial is no longer running'}
        step, score = int(message['step']), _finite(message['score'])
        live.last_score = score
        prune = bool(self.advisor.report(live.advisor_no, step, score))
        with self.store.transaction() as cur:
            trials.append_intermediate(cur, live.id, step, score)
        return {'type': 'report', 'prune': prune}

    def _on_logs(self, worker_id: str, message: dict) -> None:
        live = self._owned(worker_id, message.get('trial_id'))
        lines = message.get('lines')
        if live is not None and isinstance(lines, list):
            with self.store.transaction() as cur:
                trials.insert_logs(cur, live.id, [x for x in lines if isinstance(x, dict)])

    def _on_finished(self, worker_id: str, result: dict) -> None:
        live = self._owned(worker_id, result.get('trial_id'))
        if live is None:
            return   # already recorded (a resent result, or a trial cancelled meanwhile)
        status = TrialStatus.parse(result.get('status'), 'status').value
        score = result.get('score')
        score = None if score is None else _finite(score)
        if status == TrialStatus.COMPLETED and score is None:
            status, result['error'] = TrialStatus.ERRORED.value, 'evaluate() returned no score'
        if status == TrialStatus.PRUNED and score is None:
            score = live.last_score
        params_id = result.get('params_id') if status == TrialStatus.COMPLETED else None
        lines = [x for x in (result.get('logs') or []) if isinstance(x, dict)]
        self._end_trial(live, status, score=score, params_id=params_id, error=result.get('error'), lines=lines)

    def _owned(self, worker_id: str, trial_id) -> Optional[LiveTrial]:
        live = self.running.get(str(trial_id))
        if live is None or live.worker_id != worker_id:
            return None
        return live

    # -- trial ends --------------------------------------------------------------------------

    def _end_trial(self, live: LiveTrial, status: str, *, score=None, params_id=None, error=None,
                   lines=()) -> None:
        self.running.pop(live.id, None)
        self.channel.release_lease(live.id)
        with self.store.transaction() as cur:
            trials.insert_logs(cur, live.id, list(lines))
            trials.finish_trial(cur, live.id, status=status, score=score, params_id=params_id,
                                error=(error or None) and str(error)[-20000:])
        self.advisor.feedback(live.advisor_no, score, status, params_saved=bool(params_id))
        if params_id:
            self.params_by_advisor_no[live.advisor_no] = params_id
        if status == TrialStatus.COMPLETED:
            self.completed += 1
        self.errors_in_a_row = self.errors_in_a_row + 1 if status == TrialStatus.ERRORED else 0
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW and self.completed == 0:
            first_line = (str(error or 'unknown error').strip().splitlines() or ['unknown error'])[-1]
            self._request_end(f'{self.errors_in_a_row} trials in a row failed; the last with: {first_line}',
                              TrainJobStatus.ERRORED.value)

    def _lose(self, live: LiveTrial, why: str) -> None:
        """A trial whose worker died: retry it if the policy allows, else record it ERRORED."""
        self.running.pop(live.id, None)
        self.channel.release_lease(live.id)
        may_retry = live.attempt < self.max_retries and self.end_reason is None and self.clock() < self.deadline
        error = f'{why}; retried' if may_retry else why
        with self.store.transaction() as cur:
            trials.finish_trial(cur, live.id, status=TrialStatus.ERRORED.value, error=error)
            events.record_event(cur, events.TRIAL_LOST, job_id=self.train_job_id, subject_id=live.id,
                                data={'worker_id': live.worker_id, 'retried': may_retry})
        if may_retry:
            self.retry_queue.append(live)
        else:
            self.advisor.feedback(live.advisor_no, None, TrialStatus.ERRORED.value, params_saved=False)
        log.warning('trial %s (no %d) lost: %s', live.id, live.no, error)

    def _cancel_all(self, why: str) -> None:
        for live in list(self.running.values()):
            self._end_trial(live, TrialStatus.STOPPED.value, score=None, error=why)
        for lost in self.retry_queue:
            self.advisor.feedback(lost.advisor_no, None, TrialStatus.ERRORED.value, params_saved=False)
        self.retry_queue.clear()

    def _request_end(self, reason: str, status: str) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self.end_status = status
            log.info('sub-job %s ends: %s', self.sub_job_id, reason)

    # -- time --------------------------------------------------------------------------------

    def _maintain(self) -> None:
        now = self.clock()
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + 0.25
        for trial_id in self.channel.expired_leases(now):
            live = self.running.get(trial_id)
            if live is None:
                self.channel.release_lease(trial_id)
            else:
                self._lose(live, 'its worker stopped renewing the lease (worker lost)')
        if now >= self.deadline:
            self._request_end('time budget reached', TrainJobStatus.STOPPED.value)
            if self._grace_until is None:
                self._grace_until = self.deadline + self.settings.stop_grace_seconds
            if now >= self._grace_until and self.running:
                self._cancel_all('the time budget ran out')
        if now >= self._next_db_check:
            self._next_db_check = now + 2.0
            with self.store.transaction() as cur:
                job = train_jobs.get_train_job(cur, self.train_job_id)
            if job is None or job.status in (TrainJobStatus.STOPPING, TrainJobStatus.STOPPED,
                                             TrainJobStatus.ERRORED):
                self._request_end('stopped by user', TrainJobStatus.STOPPED.value)
                self._cancel_all('the job was stopped')

    def _finished(self) -> bool:
        if self.running:
            return False
        if self.end_reason is None and 0 <= self.trial_budget <= self.trials_started and not self.retry_queue:
            self._request_end('trial budget reached', TrainJobStatus.STOPPED.value)
        if self.retry_queue and self.end_reason is None:
            return False
        if self.retry_queue:
            self._cancel_all(self.end_reason)
        return self.end_reason is not None

    # -- end ---------------------------------------------------------------------------------

    def _finish(self) -> None:
        status, error = self.end_status, None
        if status == TrainJobStatus.ERRORED:
            error = self.end_reason
        elif self.completed == 0 and self.end_reason != 'stopped by user':
            status = TrainJobStatus.ERRORED.value
            error = f'no trial completed ({self.end_reason})'
        with self.store.transaction() as cur:
            trials.stop_live_trials(cur, sub_job_id=self.sub_job_id, error=self.end_reason)
            train_jobs.set_sub_train_job_status(cur, self.sub_job_id, status, error=error)
            job_status = train_jobs.roll_up_train_job(cur, self.train_job_id)
            services.set_service_status(cur, self.service_id, ServiceStatus.STOPPED.value)
            events.record_event(cur, events.SUB_TRAIN_JOB_ENDED, job_id=self.train_job_id, subject_id=self.sub_job_id,
                                data={'status': status, 'reason': self.end_reason, 'job_status': job_status,
                                      'trials_completed': self.completed})
        self.channel.mark_done()
        # Answer whoever is already waiting, so idle workers exit now rather than at their timeout.
        for message in self.channel.drain():
            if message.get('type') in ('hello', 'propose', 'report') and message.get('worker_id'):
                self.channel.reply(str(message['worker_id']), message, {'type': 'stop', 'reason': self.end_reason})
        log.info('sub-job %s ended %s: %s (%d trials completed)', self.sub_job_id, status, self.end_reason,
                 self.completed)


def _finite(value) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f'score {value!r} is not a finite number')
    return number


def describe_exception() -> str:
    return traceback.format_exc(limit=20)
