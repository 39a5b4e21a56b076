"""Keeps what the database says is running in line with what the container manager runs.

One reconciler acts at a time across all admin processes (a PostgreSQL advisory lock held on a
connection of its own elects the leader). Every ``settings.reconcile_interval`` seconds it:

1. asks the container manager about every live service: marks it RUNNING, STOPPED (and removes
   the finished container service) or ERRORED;
   replaces a failed service of a live job (up to ``MAX_REPLACEMENTS``); ends a sub-job whose
   advisor or every train worker is beyond repair;
2. tells an advisor at once when a worker holding one of its running trials is gone (the
   container manager no longer runs its task): the trial is retried without waiting for its lease
   to expire;
3. finishes jobs the workers cannot finish: a stop that was not honoured within the grace
   period, a train job long past its deadline;
4. removes the services, queues and Redis users of ended jobs, and ends any trial still
   PENDING or RUNNING in an ended job;
5. removes container services that no live record claims (left by an admin that crashed
   mid-deploy, or finished);

and, first of all, re-creates the Redis users of live jobs (a restarted Redis has none).

What each of these does to a job's status is ``singa.lifecycle``'s rule.
"""
import datetime
import logging
import threading
from typing import Callable, Optional

import psycopg2

from singa.constants import InferenceJobStatus, ServiceStatus, ServiceType, TrainJobStatus, TrialStatus
from singa.errors import SingaError
from singa.lifecycle import EndCause, JobEnd, end_sub_job, end_train_job, overdue_cause
from singa.meta_store import events, inference_jobs, services, train_jobs, trials
from singa.queues import (TuningChannel, WorkerLost, delete_job_user, delete_keys, stop_advisors, train_job_prefix,
                          worker_task)
from singa.admin.services.deployer import (Deployer, container_service_of, ensure_job_redis_user,
                                           job_redis_credentials)

log = logging.getLogger(__name__)

MAX_REPLACEMENTS = 3
DEADLINE_MARGIN_SECONDS = 60.0
_LEADER_LOCK = 7_262_311_048_310_552


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
        self._reported_lost: set = set()        # workers already reported gone to their advisors

    def add_hook(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` at the end of every round (the inference jobs add theirs)."""
        self._hooks.append(hook)

    # -- one round ---------------------------------------------------------------------------

    def run_once(self) -> None:
        for step in (self._ensure_redis_users, self._check_services, self._report_lost_workers,
                     self._finish_overdue_jobs, self._clean_ended_train_jobs, self._remove_orphans, *self._hooks):
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
                # Its replicas are done: remove the container service (on Swarm it would otherwise
                # stay listed, with no replica, for ever).
                self.deployer.destroy(service, timeout=2)
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
                end_sub_job(cur, service.sub_job_id, JobEnd(EndCause.ADVISOR_FAILED), by='reconciler')
        if service.service_type == ServiceType.TRAIN and not remaining:
            stop_advisors(self.r, service.job_id, [service.sub_job_id], EndCause.WORKERS_FAILED)

    def _report_lost_workers(self) -> None:
        """Tell each advisor about the workers of its running trials that no longer run."""
        with self.store.transaction() as cur:
            cur.execute('SELECT t.worker_id, s.id AS sub_job_id, s.train_job_id FROM trials t'
                        ' JOIN sub_train_jobs s ON s.id = t.sub_train_job_id'
                        ' JOIN train_jobs j ON j.id = s.train_job_id'
                        ' WHERE t.status = ANY(%s) AND j.status = ANY(%s)',
                        (list(TrialStatus.LIVE), list(TrainJobStatus.LIVE)))
            held = {row['worker_id']: row for row in cur.fetchall() if row['worker_id']}
            by_service = {}
            for worker_id in held:
                by_service.setdefault(worker_task(worker_id)[0], []).append(worker_id)
            records = {str(s.id): s for s in services.list_services(cur, live_only=True)
                       if str(s.id) in by_service}
        self._reported_lost &= set(held)
        for service_id, worker_ids in by_service.items():
            service = records.get(service_id)
            if service is None or not service.container_service_id:
                continue         # not started by the manager (or gone, and handled as a failed service)
            running = self.manager.running_tasks(container_service_of(service))
            for worker_id in worker_ids:
                if worker_task(worker_id)[1] in running or worker_id in self._reported_lost:
                    continue
                row = held[worker_id]
                TuningChannel(self.r, row['train_job_id'], row['sub_job_id']).send(WorkerLost(worker_id=worker_id))
                self._reported_lost.add(worker_id)
                log.warning('worker %s is gone: told the advisor of sub-job %s', worker_id, row['sub_job_id'])

    def _finish_overdue_jobs(self) -> None:
        now = self.clock()
        with self.store.transaction() as cur:
            jobs = train_jobs.list_train_jobs(cur, statuses=TrainJobStatus.LIVE)
        for job in jobs:
            cause = overdue_cause(job, now, self.settings.stop_grace_seconds, DEADLINE_MARGIN_SECONDS)
            if cause is None:
                continue
            with self.store.transaction() as cur:
                end_train_job(cur, job.id, JobEnd(cause, 'ended by the admin'), by='reconciler')
            log.warning('ended train job %s: %s', job.id, cause.text)

    def _clean_ended_train_jobs(self) -> None:
        with self.store.transaction() as cur:
            cur.execute("SELECT DISTINCT s.job_id FROM services s JOIN train_jobs j ON j.id = s.job_id"
                        " WHERE j.status = ANY(%s) AND s.status = ANY(%s)",
                        (list(TrainJobStatus.FINISHED), list(ServiceStatus.LIVE)))
            ended = [row['job_id'] for row in cur.fetchall()]
        for job_id in ended:
            self.clean_up_train_job(job_id)

    def _ensure_redis_users(self) -> None:
        """Re-create the Redis users of live jobs: a Redis that restarted has none (they are not
        in its data), and their workers cannot log in until then."""
        with self.store.transaction() as cur:
            live = [(ServiceType.TRAIN, job.id) for job in train_jobs.list_train_jobs(cur, statuses=TrainJobStatus.LIVE)]
            live += [(ServiceType.PREDICT, job.id)
                     for job in inference_jobs.list_inference_jobs(cur, statuses=InferenceJobStatus.LIVE)]
        for service_type, job_id in live:
            ensure_job_redis_user(self.settings, self.r, service_type.value, job_id)

    def clean_up_train_job(self, job_id) -> None:
        """Remove every service, queue and Redis user of an ended train job (unless it was resumed
        meanwhile: its services are then the new run's).

        A resume may come while the services are being removed. So the queues and the Redis user go
        in a transaction of their own that locks the job's row and checks again that it has ended:
        a resume locks that row too (``TrainJobService.resume_train_job``), so it either waits
        until they are gone and then makes its own, or has committed already and they are left
        to it. Removing the services holds no lock (a container manager may take seconds)."""
        with self.store.transaction() as cur:
            if not _ended_train_job(cur, job_id):
                return
            live = services.list_services(cur, job_id=job_id, live_only=True)
            trials.stop_live_trials(cur, train_job_id=job_id, error='the job ended')
        for service in live:
            self.deployer.remove(service)
        with self.store.transaction() as cur:
            if not _ended_train_job(cur, job_id):
                log.info('train job %s was resumed during its clean-up: its queues and Redis user are kept', job_id)
                return
            delete_keys(self.r, train_job_prefix(job_id))
            delete_job_user(self.r, job_redis_credentials(self.settings, ServiceType.TRAIN.value, job_id)[0])

    def _remove_orphans(self) -> None:
        """Remove container services whose service record is not live: running ones whose record
        is gone or finished (left by an admin that crashed mid-deploy), and finished ones whose
        record is finished too (a worker that recorded its own end, like an advisor; on Swarm
        the service would otherwise stay listed for ever).

        Service rows are committed before their container services are created, so a service
        being deployed right now is live and never taken for an orphan.
        """
        found = self.manager.list_services({})
        if not found:
            return
        with self.store.transaction() as cur:
            records = {str(s.id): s for s in services.list_services(cur)}
        for service in found:
            service_id = (service.info.get('labels') or {}).get('singa.service_id')
            record = records.get(service_id)
            if not service_id or (record is not None and record.status in ServiceStatus.LIVE):
                continue
            running = self.manager.get_service_status(service) in (ServiceStatus.RUNNING, ServiceStatus.DEPLOYING)
            if running or record is not None:
                if running:
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


def _ended_train_job(cur, job_id) -> bool:
    """Lock the row of a train job until the transaction ends; whether the job has ended."""
    job = train_jobs.get_train_job(cur, job_id, for_update=True)
    return job is not None and job.status in TrainJobStatus.FINISHED


def _job_is_live(cur, job_id) -> bool:
    """Whether the train or inference job a service belongs to still runs."""
    cur.execute("SELECT status FROM train_jobs WHERE id = %s UNION ALL SELECT status FROM inference_jobs WHERE id = %s",
                (job_id, job_id))
    row = cur.fetchone()
    return row is not None and row['status'] in (TrainJobStatus.STARTED, TrainJobStatus.RUNNING,
                                                 InferenceJobStatus.STARTED, InferenceJobStatus.RUNNING)
