"""The advisor worker: one per sub-train job. Runs no user code (it reads the knob space as JSON).

It owns the sub-job's search: it answers its train workers' requests over the tuning protocol
(``singa.queues``), records every trial in PostgreSQL, leases each running trial to its worker,
and enforces the budget on the server side:

- the deadline is the job's ``deadline_at``, fixed when the job was created, so a restarted
  advisor keeps it; at the deadline no new trial starts, running trials get
  ``settings.stop_grace_seconds`` to finish, then they are cancelled and recorded STOPPED;
- ``MODEL_TRIAL_COUNT`` counts trials as they are proposed, so it is exact however many workers
  ask at once (retries of a lost trial do not count again);
- a trial whose worker is lost (its lease expired, or the admin reports the worker gone) is re-run
  with the same knobs up to the job's ``max_trial_retries``, else recorded ERRORED;
- ``StopSubJob`` (from the admin) cancels running trials at once and ends the sub-job;
- ``BudgetChanged`` (from the admin) re-reads the budget and deadline (a rebuild, as below,
  whose search plans its search and final phases again from the new budget); one lowered below
  what the sub-job has started (or a deadline moved into the past) ends it at once like a stop
  (``BUDGET_LOWERED``: running trials are cancelled, and the sub-job ends STOPPED);
- trials users enqueued with given knobs (``enqueued_trials``) run before the advisor's own
  proposals, oldest first; they count toward ``MODEL_TRIAL_COUNT`` like any other, and one whose
  configuration was proposed meanwhile (the no-repeat rule) is dropped with that reason.

A resumed job's sub-job counts its trial budget from its current run (``run_start_no``): the
trials of earlier runs inform the search (they are restored like any), but do not use the new
budget. A job warm-started from another (``advisor_config['warm_start_from']``) tells the
completed trials of that job's sub-job of the same template to the search (``warm_start``).

How the sub-job ends (which status, for which ``EndCause``) is ``singa.lifecycle``'s rule.

On start it rebuilds its search from the trials recorded so far, so a restart resumes the study.
It rides out outages of Redis and PostgreSQL the same way: a step that fails (an outage in the
middle of answering a request, say) leaves its memory in doubt, so once the outage is over it
rebuilds it from PostgreSQL as a restart would, and does the step again (a request is resent by
its worker, a one-way message is put back). It then grants every running trial a fresh lease
before it judges any: their workers could not renew them meanwhile.

This module holds the run loop, the rebuild and the messages; the trials' bookkeeping (leases,
live trials, ending and losing them) is ``workers.advisor_trials``, the sub-job's end conditions
(budgets, exhaustion, finishing) ``workers.advisor_ending``.

Each step writes in one transaction (``_transaction``): ending a trial and recording the next one
in the same round trip costs one commit, one wait for the disk. What the step tells others (its
answer, leases granted, released or cancelled) goes out only once that commit is done
(``_after_commit``): nobody hears of a trial the database does not have.
"""
import contextlib
import logging
import math
import time
from typing import Optional

from singa.advisor import PastTrial, Proposal, make_advisor
from singa.constants import AdvisorType, BudgetKey, PrunerType, ServiceStatus, TrainJobStatus, TrialStatus
from singa.errors import ServiceUnavailableError, SingaError
from singa.lifecycle import EndCause, JobEnd, start_sub_job
from singa.meta_store import services, train_jobs, trials
from singa.model import deserialize_knob_config
from singa.objectives import clean_metrics
from singa.queues import (BudgetChanged, Bye, Finished, Hello, JobSpec, Logs, Propose, Report, ReportReply, Stop, StopSubJob,
                          TrialAssignment, TrialResult, TuningChannel, TuningMessage, Wait, WorkerLost)
from singa.workers.advisor_ending import JobEnding
from singa.workers.advisor_trials import LiveTrial, TrialBookkeeping
from singa.workers.loop import Outage

log = logging.getLogger(__name__)

RECEIVE_SECONDS = 0.2


class AdvisorWorker(TrialBookkeeping, JobEnding):
    """Serves one sub-job: the run loop, rebuilding its state from PostgreSQL, and the tuning
    protocol's messages. Its trials are ``TrialBookkeeping``'s part, its end ``JobEnding``'s."""

    def __init__(self, settings, store, redis_client, stop, clock=time.time):
        self.settings = settings
        self.store = store
        self.r = redis_client
        self.stop = stop
        self.clock = clock
        self.service_id = settings.service_id
        self.heartbeat_seconds = min(1.0, settings.trial_lease_seconds / 3)
        # Kept through a rebuild: the answers to the last request of each worker, so that one sent
        # again gets the same answer, and the services known to run.
        self.last_reply: dict[str, tuple] = {}
        self.seen_services: set = set()
        self._cur = None
        self._after: list = []
        self._budget_changed = False
        self._forget()

    def _forget(self) -> None:
        """Clear what is rebuilt from the database (``_load``)."""
        self.running: dict[str, LiveTrial] = {}
        self.retry_queue: list[LiveTrial] = []
        self.unrecorded: Optional[Proposal] = None     # asked of the search, not yet recorded
        self.params_by_advisor_no: dict[int, str] = {}
        self.end: Optional[JobEnd] = None
        self.errors_in_a_row = 0
        self.completed = 0
        self.trials_started = 0
        self.next_no = 1
        self._next_maintenance = 0.0
        self._leases_seen_at: Optional[float] = None
        self._grace_until: Optional[float] = None

    # -- start -----------------------------------------------------------------------------

    def run(self) -> int:
        """Serve the sub-job until it ends (0) or a warm stop is requested (0, not finalised)."""
        outage = Outage(self.stop)
        loaded, rebuild = False, False
        while not self.stop.is_set():
            try:
                if not loaded or rebuild or self._budget_changed:
                    changed, self._budget_changed = self._budget_changed, False
                    if not self._load(rebuild or changed):
                        return 0
                    loaded, rebuild = True, False
                    if changed:
                        self._end_if_budget_lowered()
                if self._finished():
                    self._finish()
                    return 0
                message = self.channel.receive(timeout=RECEIVE_SECONDS)
                if message is not None:
                    self._handle(message)
                self._maintain()
                outage.over()
            except ServiceUnavailableError as e:
                rebuild = loaded
                outage.wait(e)
        log.info('warm stop (%s): leaving the sub-job to a restarted advisor', self.stop.reason)
        return 0

    @contextlib.contextmanager
    def _transaction(self):
        """The transaction of the step under way: the writes of one step (nested uses share it)
        commit together, or not at all."""
        if self._cur is not None:
            yield self._cur
            return
        with self.store.transaction() as cur:
            self._cur, self._after = cur, []
            try:
                yield cur
            finally:
                self._cur = None
        after, self._after = self._after, []
        for action in after:
            action()

    def _after_commit(self, action) -> None:
        """Do ``action`` once the step's transaction has committed (at once outside a step)."""
        if self._cur is None:
            action()
        else:
            self._after.append(action)

    def _load(self, rebuild: bool = False) -> bool:
        """Read the sub-job and rebuild the search; False if it has ended already."""
        self._forget()
        with self.store.transaction() as cur:
            service = services.get_service(cur, self.service_id)
            if service is None or service.sub_job_id is None:
                raise RuntimeError(f'advisor service {self.service_id} is not recorded')
            spec = train_jobs.sub_job_spec(cur, service.sub_job_id)
            past = trials.list_trials_of_sub_job(cur, service.sub_job_id)
            config = spec['advisor_config'] or {}
            known = []
            if config.get('warm_start_from'):
                known = trials.completed_trials_of_template(cur, config['warm_start_from']['train_job_id'],
                                                            spec['model_id'])
            if spec['sub_job_status'] in TrainJobStatus.FINISHED:
                services.set_service_status(cur, self.service_id, ServiceStatus.STOPPED.value)
                log.info('sub-job %s already ended', service.sub_job_id)
                return False
            services.set_service_status(cur, self.service_id, ServiceStatus.RUNNING.value)
            start_sub_job(cur, service.sub_job_id, spec['train_job_id'])
        self.spec = spec
        self.sub_job_id = spec['sub_job_id']
        self.train_job_id = spec['train_job_id']
        self.channel = TuningChannel(self.r, self.train_job_id, self.sub_job_id)
        self.run_start_no = int(spec['run_start_no'] or 1)
        self.trials_before = sum(1 for t in past if t.no < self.run_start_no and t.retry_of is None)
        budget = dict(spec['budget'] or {})
        run_budget = int(budget.get(BudgetKey.MODEL_TRIAL_COUNT, -1) or -1)
        # The trials of earlier runs (a resumed job) do not use this run's budget.
        self.trial_budget = self.trials_before + run_budget if run_budget >= 0 else -1
        if self.trial_budget >= 0:
            budget[BudgetKey.MODEL_TRIAL_COUNT.value] = self.trial_budget
        self.deadline = float(spec['deadline']) if spec['deadline'] is not None else math.inf
        self.max_retries = int(config.get('max_trial_retries', self.settings.max_trial_retries))
        try:
            self.advisor = make_advisor(deserialize_knob_config(spec['knob_config']), budget,
                                        advisor_type=config.get('advisor', AdvisorType.AUTO.value),
                                        pruner=config.get('pruner', PrunerType.NONE.value),
                                        seed=config.get('seed'),
                                        allow_repeats=bool(config.get('allow_repeats', False)),
                                        objectives=config.get('objectives'), constraints=config.get('constraints'),
                                        tie_tolerance=spec['tie_tolerance'])
        except SingaError as e:
            # A configuration the search cannot run with will not get better on a restart.
            self._request_end(EndCause.UNSEARCHABLE, e.message)
            self._finish()
            return False
        self._restore(past)
        if known:
            told = self.advisor.warm_start([PastTrial(no=t.no, knobs=t.knobs, status=t.status, score=t.score,
                                                      metrics=t.values) for t in known])
            log.info('warm start: told the search %d completed trials of train job %s', told,
                     config['warm_start_from']['train_job_id'])
        if not rebuild:
            self._leases_seen_at = self.clock()   # workers renewed their leases while no advisor ran
        if spec['job_status'] == TrainJobStatus.STOPPING:
            self._request_end(EndCause.USER_STOP)
        return True

    def _restore(self, past) -> None:
        """Rebuild the search from recorded trials; trials recorded RUNNING are running still.

        Their workers renewed their leases while no advisor watched; a trial whose lease expired
        meanwhile lost its worker and is retried or recorded ERRORED like any lost trial (by the
        first lease check), and one whose lease is missing is granted a fresh one there."""
        retried = {t.retry_of for t in past if t.retry_of is not None}
        restored = []
        for t in past:
            self.next_no = max(self.next_no, t.no + 1)
            if t.retry_of is None:
                self.trials_started += 1
            if t.id in retried:
                continue   # an attempt that was re-run: the study knows its logical trial once
            advisor_no = int(t.proposal.get('advisor_no', t.no))
            restored.append(PastTrial(no=advisor_no, recorded_no=t.no, knobs=t.knobs, status=t.status,
                                      score=t.score, metrics=t.values,
                                      intermediate=[tuple(x) for x in t.intermediate],
                                      meta=t.proposal.get('meta', {}), params_saved=bool(t.params_id),
                                      earlier_run=t.no < self.run_start_no))
            if t.status in TrialStatus.FINISHED:
                if t.params_id:
                    self.params_by_advisor_no[advisor_no] = t.params_id
                self.completed += t.status == TrialStatus.COMPLETED
                self.errors_in_a_row = self.errors_in_a_row + 1 if t.status == TrialStatus.ERRORED else 0
                continue
            live = LiveTrial(str(t.id), t.no, advisor_no, t.worker_id, t.knobs, t.proposal, t.attempt)
            self.running[live.id] = live
        self.advisor.restore(restored)
        if past:
            log.info('resumed sub-job %s: %d trials recorded, %d still running', self.sub_job_id,
                     len(past), len(self.running))

    # -- messages --------------------------------------------------------------------------

    def _handle(self, message: TuningMessage) -> None:
        try:
            with self._transaction():
                if isinstance(message, (Hello, Propose, Report)):
                    self._answer(message)
                else:
                    self._take(message)
        except ServiceUnavailableError:
            if not isinstance(message, (Hello, Propose, Report)):   # a request is resent by its worker
                self._put_back(message)
            raise
        except (TypeError, ValueError, KeyError) as e:
            log.warning('dropped a malformed %s message: %s', message.TYPE, e)

    def _answer(self, request) -> None:
        worker_id = request.worker_id
        self._note_service(request.service_id)
        cached = self.last_reply.get(worker_id)
        if cached is not None and cached[0] == request.req_id:
            self.channel.reply(request, cached[1])        # a resent request: the same answer
            return
        if isinstance(request, Hello):
            reply = self._job_spec()
        elif isinstance(request, Propose):
            reply = self._on_propose(request)
        else:
            reply = self._on_report(request)

        def answer():
            self.last_reply[worker_id] = (request.req_id, reply)
            self.channel.reply(request, reply)
        self._after_commit(answer)

    def _take(self, message: TuningMessage) -> None:
        if isinstance(message, StopSubJob):
            self._request_end(message.cause)
            self._cancel_all(f'the job ended: {self.end.reason}')
        elif isinstance(message, WorkerLost):
            for live in [t for t in self.running.values() if t.worker_id == message.worker_id]:
                self._lose(live, 'its worker was lost (its container manager saw it gone)')
        elif isinstance(message, Finished):
            self._on_finished(message.worker_id, message.result)
        elif isinstance(message, Logs):
            self._on_logs(message)
        elif isinstance(message, Bye):
            self.last_reply.pop(message.worker_id, None)
        elif isinstance(message, BudgetChanged):
            self._budget_changed = True

    def _put_back(self, message: TuningMessage) -> None:
        try:
            self.channel.put_back(message)
        except ServiceUnavailableError:
            log.warning('lost a %s message in an outage of Redis', message.TYPE)

    def _note_service(self, service_id) -> None:
        if service_id and service_id not in self.seen_services:
            with self._transaction() as cur:
                service = services.get_service(cur, service_id)
                if service is not None and str(service.sub_job_id) == str(self.sub_job_id):
                    services.set_service_status(cur, service_id, ServiceStatus.RUNNING.value)
            self._after_commit(lambda: self.seen_services.add(service_id))

    def _job_spec(self) -> JobSpec:
        s = self.spec
        return JobSpec(task=s['task'], model_path=s['model_path'], model_class=s['model_class'],
                       file_kind=s['file_kind'], module_file=s['file_name'], model_name=s['model_name'],
                       file_sha256=s['file_sha256'], env=s['env_key'], train_dataset=s['train_dataset_path'],
                       val_dataset=s['val_dataset_path'], train_args=s['train_args'] or {},
                       heartbeat_seconds=self.heartbeat_seconds,
                       max_concurrent_trials=(s['budget'] or {}).get(BudgetKey.MAX_CONCURRENT_TRIALS.value),
                       lease_seconds=self.settings.trial_lease_seconds)

    def _on_propose(self, request: Propose) -> TuningMessage:
        if request.finished is not None:
            self._on_finished(request.worker_id, request.finished)
        live = self._next_trial(request.worker_id) if request.wants_trial else None
        if live is None:
            if self.end is None:
                return Wait(seconds=0.5)
            return Stop(reason=self.end.reason)
        self._after_commit(lambda: self.channel.grant_leases([live.id], self.settings.trial_lease_seconds))
        return TrialAssignment(trial_id=live.id, trial_no=live.no, knobs=live.knobs,
                               meta=live.proposal.get('meta', {}),
                               shared_params_id=live.proposal.get('shared_params_id'),
                               to_save_params=live.proposal.get('to_save_params', True),
                               lease_seconds=self.settings.trial_lease_seconds)

    def _on_report(self, request: Report) -> ReportReply:
        live = self._owned(request.worker_id, request.trial_id)
        if live is None:
            return ReportReply(prune=True, reason='the trial is no longer running')
        score = _finite(request.score)
        with self._transaction() as cur:
            trials.append_intermediate(cur, live.id, request.step, score)
        live.last_score = score
        return ReportReply(prune=bool(self.advisor.report(live.advisor_no, request.step, score)))

    def _on_logs(self, message: Logs) -> None:
        live = self._owned(message.worker_id, message.trial_id)
        if live is not None:
            with self._transaction() as cur:
                trials.insert_logs(cur, live.id, [x for x in message.lines if isinstance(x, dict)])

    def _on_finished(self, worker_id: str, result: TrialResult) -> None:
        live = self._owned(worker_id, result.trial_id)
        if live is None:
            return   # already recorded (a resent result, or a trial cancelled meanwhile)
        status, error = result.status, result.error
        score = None if result.score is None else _finite(result.score)
        if status == TrialStatus.COMPLETED and score is None:
            status, error = TrialStatus.ERRORED, 'evaluate() returned no score'
        if status == TrialStatus.PRUNED and score is None:
            score = live.last_score
        params_id = result.params_id if status == TrialStatus.COMPLETED else None
        params_bytes = result.params_bytes if params_id else None
        metrics = clean_metrics(result.metrics) if status == TrialStatus.COMPLETED else None
        lines = [x for x in result.logs if isinstance(x, dict)]
        self._end_trial(live, status, score=score, params_id=params_id, params_bytes=params_bytes, error=error,
                        lines=lines, metrics=metrics)



def _finite(value) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f'score {value!r} is not a finite number')
    return number
