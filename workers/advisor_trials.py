"""The advisor worker's trial bookkeeping: which trial runs next, recording trials, their leases,
and how a trial ends (finished, lost to a dead worker and retried, or cancelled).

A mixin of ``AdvisorWorker`` (``workers.advisor``), which owns the state it keeps: ``running``
(the live trials by id), ``retry_queue`` (lost trials waiting for a re-run), ``unrecorded``,
``params_by_advisor_no``, ``next_no``, ``trials_started``, ``completed`` and ``errors_in_a_row``,
all rebuilt from PostgreSQL by ``AdvisorWorker._load``. Every write goes through the step's
``_transaction``; what others hear of it (leases granted, released or cancelled) goes out through
``_after_commit``. When to end the sub-job is ``workers.advisor_ending``'s part.
"""
import dataclasses
import logging
from typing import Optional

from singa.advisor import Proposal
from singa.constants import TrialStatus
from singa.lifecycle import EndCause
from singa.meta_store import enqueued_trials, events, trials
from singa.objectives import trial_values

log = logging.getLogger('singa.workers.advisor')   # one logger for the whole advisor worker

MAX_ERRORS_IN_A_ROW = 5


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


class TrialBookkeeping:
    """Starts, records and ends the sub-job's trials (see the module docstring)."""

    # -- the next trial ----------------------------------------------------------------------

    def _next_trial(self, worker_id: str) -> Optional[LiveTrial]:
        if self.end is not None:
            return None
        if self.clock() >= self.deadline:
            self._request_end(EndCause.TIME_BUDGET)
            return None
        if self.retry_queue:
            lost = self.retry_queue[0]
            live = self._record_trial(worker_id, lost.advisor_no, lost.knobs, lost.proposal,
                                      attempt=lost.attempt + 1, retry_of=lost.id)
            self.retry_queue.pop(0)
            return live
        if 0 <= self.trial_budget <= self.trials_started:
            if not (self.running and self.max_retries > 0):
                self._request_end(EndCause.TRIAL_BUDGET)
            return None   # workers wait: a running trial may still be lost and need a retry
        proposal = self.unrecorded or self._enqueued_proposal() or self.advisor.propose(self.next_no, now=self.clock())
        if proposal is None:
            if not self.running:
                self._request_end(EndCause.SEARCH_EXHAUSTED)
            return None
        self.unrecorded = proposal
        shared = None
        if proposal.shared_params_trial_no is not None:
            shared = self.params_by_advisor_no.get(proposal.shared_params_trial_no)
        record = {'advisor_no': proposal.trial_no, 'meta': proposal.meta, 'shared_params_id': shared,
                  'to_save_params': proposal.to_save_params}
        live = self._record_trial(worker_id, proposal.trial_no, proposal.knobs, record)
        if 'enqueued_id' in proposal.meta:
            with self._transaction() as cur:
                enqueued_trials.mark_run(cur, proposal.meta['enqueued_id'], live.id)
        self.unrecorded = None
        self.trials_started += 1
        return live

    def _enqueued_proposal(self) -> Optional[Proposal]:
        """The proposal for the oldest trial a user enqueued, if one waits; one the no-repeat rule
        forbids now (its configuration was proposed since it was enqueued) is dropped."""
        with self._transaction() as cur:
            while True:
                waiting = enqueued_trials.take_next(cur, self.sub_job_id)
                if waiting is None:
                    return None
                proposal = self.advisor.propose_given(self.next_no, waiting.knobs, now=self.clock())
                if proposal is not None:
                    proposal.meta['enqueued_id'] = str(waiting.id)
                    return proposal
                enqueued_trials.mark_dropped(cur, waiting.id, 'its knob set was proposed since it was enqueued')

    def _record_trial(self, worker_id, advisor_no, knobs, proposal, attempt=0, retry_of=None) -> LiveTrial:
        with self._transaction() as cur:
            row = trials.insert_trial(cur, sub_job_id=self.sub_job_id, no=self.next_no, model_id=self.spec['model_id'],
                                      knobs=knobs, proposal=proposal, worker_id=worker_id, attempt=attempt,
                                      retry_of=retry_of)
        self.next_no += 1
        live = LiveTrial(str(row.id), row.no, advisor_no, worker_id, knobs, proposal, attempt)
        self.running[live.id] = live
        return live

    def _owned(self, worker_id: str, trial_id) -> Optional[LiveTrial]:
        live = self.running.get(str(trial_id))
        if live is None or live.worker_id != worker_id:
            return None
        return live

    # -- trial ends --------------------------------------------------------------------------

    def _end_trial(self, live: LiveTrial, status: TrialStatus, *, score=None, params_id=None, params_bytes=None,
                   error=None, lines=(), metrics=None) -> None:
        with self._transaction() as cur:
            trials.insert_logs(cur, live.id, list(lines))
            trials.finish_trial(cur, live.id, status=status.value, score=score, params_id=params_id,
                                params_bytes=params_bytes, error=(error or None) and str(error)[-20000:],
                                metrics=metrics)
        self.running.pop(live.id, None)
        # A trial stopped here is cancelled: its worker abandons it, if it still runs it.
        self._after_commit(lambda: (self.channel.cancel if status == TrialStatus.STOPPED
                                    else self.channel.release_lease)(live.id))
        self.advisor.feedback(live.advisor_no, score, status.value, params_saved=bool(params_id),
                              metrics=trial_values(score, metrics, params_bytes), recorded_no=live.no)
        if params_id:
            self.params_by_advisor_no[live.advisor_no] = params_id
        if status == TrialStatus.COMPLETED:
            self.completed += 1
        self.errors_in_a_row = self.errors_in_a_row + 1 if status == TrialStatus.ERRORED else 0
        if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW and self.completed == 0:
            last = (str(error or 'unknown error').strip().splitlines() or ['unknown error'])[-1]
            self._request_end(EndCause.TRIALS_FAILING,
                              f'{self.errors_in_a_row} trials in a row failed; the last with: {last}')

    def _lose(self, live: LiveTrial, why: str) -> None:
        """A trial whose worker died: retry it if the policy allows, else record it ERRORED."""
        may_retry = live.attempt < self.max_retries and self.end is None and self.clock() < self.deadline
        error = f'{why}; retried' if may_retry else why
        with self._transaction() as cur:
            trials.finish_trial(cur, live.id, status=TrialStatus.ERRORED.value, error=error)
            events.record_event(cur, events.TRIAL_LOST, job_id=self.train_job_id, subject_id=live.id,
                                data={'worker_id': live.worker_id, 'retried': may_retry})
        self.running.pop(live.id, None)
        self._after_commit(lambda: self.channel.cancel(live.id))
        if may_retry:
            self.retry_queue.append(live)
        else:
            self.advisor.feedback(live.advisor_no, None, TrialStatus.ERRORED.value, params_saved=False)
        log.warning('trial %s (no %d) lost: %s', live.id, live.no, error)

    def _cancel_all(self, why: str) -> None:
        for live in list(self.running.values()):
            self._end_trial(live, TrialStatus.STOPPED, error=why)
        for lost in self.retry_queue:
            self.advisor.feedback(lost.advisor_no, None, TrialStatus.ERRORED.value, params_saved=False)
        self.retry_queue.clear()

    # -- leases ------------------------------------------------------------------------------

    def _check_leases(self, now: float) -> None:
        """Lose the running trials whose leases expired. A lease that is missing (Redis lost it)
        is granted again; after a spell in which the leases could not be seen (an outage), every
        running trial gets a fresh lease first: its worker could not renew it either."""
        leases = self.channel.live_leases()
        blind = self._leases_seen_at is None or now - self._leases_seen_at > 3 * self.heartbeat_seconds
        self._leases_seen_at = now
        fresh = [t for t in self.running if blind or t not in leases]
        if fresh:
            self.channel.grant_leases(fresh, self.settings.trial_lease_seconds)
            if blind:
                log.info('granted fresh leases to %d running trials after a spell without Redis', len(fresh))
        for trial_id, expiry in leases.items():
            if expiry > now or trial_id in fresh:
                continue
            live = self.running.get(trial_id)
            if live is None:
                self.channel.release_lease(trial_id)
            else:
                self._lose(live, 'its worker stopped renewing the lease (worker lost)')
