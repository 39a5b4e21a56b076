"""The advisor worker's end conditions: when the sub-job ends (its time or trial budget spent, a
budget lowered below what it has started, the search exhausted, trials failing, a stop) and
finishing it.

A mixin of ``AdvisorWorker`` (``workers.advisor``). ``_request_end`` notes the first cause in
``end`` (a ``singa.lifecycle.JobEnd``); the run loop finishes the sub-job (``_finish``) once
``_finished`` says no trial is left running. The budget it judges, ``trial_budget`` (counted over
``trials_started``) and ``deadline``, is read by ``AdvisorWorker._load``; which status the sub-job
ends with, for which cause, is ``singa.lifecycle``'s rule.
"""
import logging

from singa.constants import ServiceStatus
from singa.lifecycle import EndCause, JobEnd, end_sub_job
from singa.meta_store import services
from singa.queues import Hello, Propose, Report, Stop

log = logging.getLogger('singa.workers.advisor')   # one logger for the whole advisor worker

MAINTAIN_SECONDS = 0.25


class JobEnding:
    """Decides and carries out the end of the sub-job (see the module docstring)."""

    def _request_end(self, cause: EndCause, detail: str = '') -> None:
        if self.end is None:
            self.end = JobEnd(cause, detail)
            log.info('sub-job %s ends: %s', self.sub_job_id, self.end.reason)

    def _end_if_budget_lowered(self) -> None:
        """After a budget change: end the sub-job at once, like a stop, if the new budget is below
        what it has started or its new deadline has passed."""
        over_count = 0 <= self.trial_budget < self.trials_started
        if over_count or self.clock() >= self.deadline:
            self._request_end(EndCause.BUDGET_LOWERED, 'trial budget' if over_count else 'time budget')
            with self._transaction():
                self._cancel_all(self.end.reason)

    # -- time --------------------------------------------------------------------------------

    def _maintain(self) -> None:
        now = self.clock()
        if now < self._next_maintenance:
            return
        self._next_maintenance = now + MAINTAIN_SECONDS
        self._check_leases(now)
        if now >= self.deadline:
            self._request_end(EndCause.TIME_BUDGET)
            if self._grace_until is None:
                self._grace_until = self.deadline + self.settings.stop_grace_seconds
            if now >= self._grace_until and self.running:
                self._cancel_all('the time budget ran out')

    # -- end ---------------------------------------------------------------------------------

    def _finished(self) -> bool:
        if self.running:
            return False
        if self.end is None and 0 <= self.trial_budget <= self.trials_started and not self.retry_queue:
            self._request_end(EndCause.TRIAL_BUDGET)
        if self.retry_queue and self.end is None:
            return False
        if self.retry_queue:
            self._cancel_all(self.end.reason)
        return self.end is not None

    def _finish(self) -> None:
        with self.store.transaction() as cur:
            status = end_sub_job(cur, self.sub_job_id, self.end, by='advisor')
            services.set_service_status(cur, self.service_id, ServiceStatus.STOPPED.value)
        self.channel.mark_done()
        # Answer whoever is already waiting, so idle workers exit now rather than at their timeout.
        for message in self.channel.drain():
            if isinstance(message, (Hello, Propose, Report)):
                self.channel.reply(message, Stop(reason=self.end.reason))
        log.info('sub-job %s ended %s: %s (%d trials completed)', self.sub_job_id, status, self.end.reason,
                 self.completed)
