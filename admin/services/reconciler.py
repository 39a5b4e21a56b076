"""Keeps what the database says is running in line with what the container manager runs.

One reconciler acts at a time across all admin processes (a PostgreSQL advisory lock held on a
connection of its own elects the leader). Every ``settings.reconcile_interval`` seconds it:

1. asks the container manager about every live service: marks it RUNNING, STOPPED or ERRORED;
   replaces a failed service of a live job (up to ``MAX_REPLACEMENTS``); ends a sub-job whose
   advisor or every train worker is beyond repair;
2. finishes jobs the workers cannot finish: a stop that was not honoured within the grace
   period, a train job long past its deadline;
3. removes the services, queues and Redis users of ended jobs, and ends any trial still
   PENDING or RUNNING in an ended job;
4. removes container services that no live record claims (left by an admin that crashed
   mid-deploy), and re-creates the Redis users of live jobs (in case Redis lost them).
"""
import datetime
import logging
import threading
from typing import Callable, Optional

import psycopg2

from singa.constants import ServiceStatus, ServiceType, TrainJobStatus
from singa.errors import SingaError
from singa.meta_store import events, services, train_jobs, trials
from singa.queues import delete_job_user, delete_keys, stop_advisors, train_job_prefix
from singa.admin.services.deployer import (Deployer, container_service_of, ensure_job_redis_user,
                                           job_redis_credentials)

log = logging.getLogger(__name__)

MAX_REPLACEMENTS = 3
DEADLINE_MARGIN_SECONDS = 60.0
_LEADER_LOCK = 7_262_311_048_310_552
_FINISHED = (TrainJobStatus.STOPPED, TrainJobStatus.ERRORED)


class Reconciler:
    def __init__(self, store, settings, manager, redis_client, deployer: Optional[Deployer] = None,
                 clock: Callable[[], datetime.datetime] = None):
        self.store = store
        self.settings = settings
        self.manager = manager
        self.r = redis_client
        self.deployer = deployer or Deployer(store, settings, manager, redis_client)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()
        self._hooks: list[Callable[[], None]] = []

    def add_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` at the end of every round (the inference jobs add theirs)."""
        self._hooks.append(hook)

    # -- one round ---------------------------------------------------------------------------

    def run_once(self) -> None:
        for step in (self._check_services, self._finish_overdue_jobs, self._clean_ended_train_jobs,
                     self._remove_orphans, *self._hooks):
            try:
                step()
            except SingaError as e:
                log.warning('reconcile step %s failed: %s', getattr(step, '__name__', step), e)

    def _check_services(self) -> None:
        with self.store.transaction() as cur:
            live = services.list_services(cur, live_only=True)
        for service in live:
            if not service.container_service_id:
                continue   # being deployed right now, or the deploy failed and its job is handled
            status = self.manager.get_service_status(container_service_of(service))
            if status == ServiceStatus.RUNNING and service.status != ServiceStatus.RUNNING:
                with self.store.transaction() as cur:
                    services.set_service_status(cur, service.id, ServiceStatus.RUNNING.value)
            elif status == ServiceStatus.STOPPED:
                with self.store.transaction() as cur:
                    services.set_service_status(cur, service.id, ServiceStatus.STOPPED.value)
            elif status == ServiceStatus.ERRORED:
                self._on_failed_service(service)

    def _on_failed_service(self, service) -> None:
        with self.store.transaction() as cur:
            job_live = _job_is_live(cur, service.job_id)
            restarts = service.restarts
        self.deployer.destroy(service, timeout=2)
        if job_live and restarts < MAX_REPLACEMENTS:
            with self.store.transaction() as cur:
                services.count_restart(cur, service.id)
                events.record_event(cur, events.SERVICE_REPLACED, job_id=service.job_id, subject_id=service.id,
                                    data={'service_type': service.service_type, 'restarts': restarts + 1})
            try:
                self.deployer.deploy(service, image=service.info.get('image'))
                log.warning('replaced failed %s service %s (%d)', service.service_type, service.id, restarts + 1)
                return
            except SingaError as e:
                log.error('could not replace service %s: %s', service.id, e)
        with self.store.transaction() as cur:
            services.set_service_status(cur, service.id, ServiceStatus.ERRORED.value,
                                        error=f'failed {restarts + 1} times')
        if job_live and service.sub_job_id is not None:
            self._on_sub_job_lost_service(service)

    def _on_sub_job_lost_service(self, service) -> None:
        with self.store.transaction() as cur:
            remaining = [s for s in services.list_services(cur, sub_job_id=service.sub_job_id, live_only=True)
                         if s.service_type == service.service_type]
            if service.service_type == ServiceType.ADVISOR:
                self._end_sub_job(cur, service.job_id, service.sub_job_id, 'its advisor kept failing')
        if service.service_type == ServiceType.TRAIN and not remaining:
            stop_advisors(self.r, service.job_id, [service.sub_job_id], reason='every train worker failed')

    def _end_sub_job(self, cur, job_id, sub_job_id, reason: str) -> None:
        trials.stop_live_trials(cur, sub_job_id=sub_job_id, error=reason)
        sub = train_jobs.get_sub_train_job(cur, sub_job_id)
        completed = [t for t in trials.list_trials_of_sub_job(cur, sub_job_id) if t.status == 'COMPLETED']
        status = TrainJobStatus.STOPPED.value if completed else TrainJobStatus.ERRORED.value
        if sub is not None:
            train_jobs.set_sub_train_job_status(cur, sub_job_id, status, error=reason)
        train_jobs.roll_up_train_job(cur, job_id)
        events.record_event(cur, events.SUB_TRAIN_JOB_ENDED, job_id=job_id, subject_id=sub_job_id,
                            data={'status': status, 'reason': reason, 'by': 'reconciler'})

    def _finish_overdue_jobs(self) -> None:
        now = self.clock()
        grace = datetime.timedelta(seconds=self.settings.stop_grace_seconds)
        margin = datetime.timedelta(seconds=self.settings.stop_grace_seconds + DEADLINE_MARGIN_SECONDS)
        with self.store.transaction() as cur:
            jobs = train_jobs.list_train_jobs(cur, statuses=('STARTED', 'RUNNING', 'STOPPING'))
        for job in jobs:
            stop_since = job.stop_requested_at
            overdue_stop = job.status == TrainJobStatus.STOPPING and stop_since and now - stop_since > grace
            overdue_deadline = job.deadline_at is not None and now - job.deadline_at > margin
            if not (overdue_stop or overdue_deadline):
                continue
            reason = 'stopped by user' if overdue_stop else 'time budget reached'
            with self.store.transaction() as cur:
                for sub in train_jobs.list_sub_train_jobs(cur, job.id):
                    if sub.status not in _FINISHED:
                        self._end_sub_job(cur, job.id, sub.id, reason + ' (ended by the admin)')
                if overdue_stop:
                    train_jobs.set_train_job_status(cur, job.id, TrainJobStatus.STOPPED.value)
            log.warning('ended train job %s: %s', job.id, reason)

    def _clean_ended_train_jobs(self) -> None:
        with self.store.transaction() as cur:
            cur.execute("SELECT DISTINCT s.job_id FROM services s JOIN train_jobs j ON j.id = s.job_id"
                        " WHERE j.status = ANY(%s) AND s.status = ANY(%s)",
                        ([s.value for s in _FINISHED], list(services.LIVE)))
            ended = [row['job_id'] for row in cur.fetchall()]
        for job_id in ended:
            self.clean_up_train_job(job_id)
        with self.store.transaction() as cur:
            cur.execute("SELECT id FROM train_jobs WHERE status = ANY(%s)", (['STARTED', 'RUNNING', 'STOPPING'],))
            live = [row['id'] for row in cur.fetchall()]
        for job_id in live:
            ensure_job_redis_user(self.settings, self.r, ServiceType.TRAIN.value, job_id)

    def clean_up_train_job(self, job_id) -> None:
        """Remove every service, queue and Redis user of an ended train job."""
        with self.store.transaction() as cur:
            live = services.list_services(cur, job_id=job_id, live_only=True)
            trials.stop_live_trials(cur, train_job_id=job_id, error='the job ended')
        for service in live:
            try:
                self.deployer.destroy(service)
            except SingaError as e:
                log.warning('could not remove service %s: %s', service.id, e)
                continue
            with self.store.transaction() as cur:
                services.set_service_status(cur, service.id, ServiceStatus.STOPPED.value)
        delete_keys(self.r, train_job_prefix(job_id))
        delete_job_user(self.r, job_redis_credentials(self.settings, ServiceType.TRAIN.value, job_id)[0])

    def _remove_orphans(self) -> None:
        """Remove container services whose service record is not live (or gone).

        Service rows are committed before their container services are created, so a service
        being deployed right now is live and never taken for an orphan.
        """
        found = self.manager.list_services({})
        if not found:
            return
        with self.store.transaction() as cur:
            live = {str(s.id) for s in services.list_services(cur, live_only=True)}
        for service in found:
            service_id = (service.info.get('labels') or {}).get('singa.service_id')
            if service_id and service_id not in live and \
                    self.manager.get_service_status(service) in (ServiceStatus.RUNNING, ServiceStatus.DEPLOYING):
                log.warning('removing orphan container service %s', service.name)
                self.manager.destroy_service(service, timeout=5)

    # -- the thread --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name='reconciler', daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        conn = None
        while not self._stopped.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg2.connect(self.settings.postgres_dsn)
                    conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute('SELECT pg_try_advisory_lock(%s)', (_LEADER_LOCK,))
                    leader = cur.fetchone()[0]
                if leader:
                    while not self._stopped.is_set():
                        self.run_once()
                        self._stopped.wait(self.settings.reconcile_interval)
                        with conn.cursor() as cur:
                            cur.execute('SELECT 1')
            except (psycopg2.Error, SingaError) as e:
                log.warning('reconciler: %s', e)
                if conn is not None:
                    conn.close()
                conn = None
            except Exception:  # noqa: BLE001 - the reconciler must outlive any one bad round
                log.exception('reconciler round failed')
            self._stopped.wait(self.settings.reconcile_interval)
        if conn is not None:
            conn.close()


def _job_is_live(cur, job_id) -> bool:
    """Whether the train or inference job a service belongs to still runs."""
    cur.execute("SELECT status FROM train_jobs WHERE id = %s UNION ALL SELECT status FROM inference_jobs WHERE id = %s",
                (job_id, job_id))
    row = cur.fetchone()
    return row is not None and row['status'] in ('STARTED', 'RUNNING')
