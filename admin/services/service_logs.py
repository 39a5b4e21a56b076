"""The logs of a job's services: the advisors and train workers of a train job, the predictor and
inference workers of an inference job, read from the shared storage after the services are gone.

Every container manager keeps a service's log at ``<storage>/logs/<job id>/<service>-<replica>.log``
(``singa.container.storage``; the process manager writes what a replica prints, Swarm services
log there themselves). A job's files are matched to its recorded services by name, so only the
files of the job's own services are ever listed or read, and a name from a request is looked up
among them, never joined to a path.

Who may read them: whoever may see the job (its owner, or an admin naming the owner).
"""
import datetime
import os
import re
import uuid
from dataclasses import dataclass
from typing import Optional

from singa.admin.services.deployer import service_name
from singa.admin.services.train_jobs import train_job_of_app
from singa.constants import ServiceType
from singa.container.storage import file_stem, job_log_dir
from singa.errors import NotFoundError
from singa.meta_store import services
from singa.meta_store.records import UserRecord

DEFAULT_LOG_CHUNK = 64 << 10        # bytes one read answers by default (the end of the file)
MAX_LOG_CHUNK = 1 << 20
MAX_LOG_OFFSET = 2 ** 62
_REPLICA = re.compile(r'-(\d{1,6})\.log$')


@dataclass(frozen=True)
class LogFile:
    name: str                    # <service>-<replica>.log
    service_id: uuid.UUID
    service_type: str
    replica: int
    model_name: str              # the template a train or inference worker runs ('' for others)
    size: int
    modified_at: datetime.datetime


@dataclass(frozen=True)
class LogChunk:
    name: str
    size: int                    # of the whole file now
    offset: int                  # where ``text`` starts
    text: str                    # UTF-8, undecodable bytes replaced
    next_offset: int             # pass as ``offset`` to read on from here


class ServiceLogService:
    def __init__(self, store, settings, inference_jobs):
        self.store = store
        self.storage_dir = settings.storage_dir
        self.inference_jobs = inference_jobs

    # -- train jobs ----------------------------------------------------------------------------
    def train_job_logs(self, actor: UserRecord, app: str, app_version: int = -1,
                       owner_id: Optional[uuid.UUID] = None) -> list[LogFile]:
        return self._list(self._train_job_id(actor, app, app_version, owner_id))

    def train_job_log(self, actor: UserRecord, app: str, app_version: int, name: str, offset: Optional[int] = None,
                      limit: int = DEFAULT_LOG_CHUNK, owner_id: Optional[uuid.UUID] = None) -> LogChunk:
        return self._read(self._train_job_id(actor, app, app_version, owner_id), name, offset, limit)

    # -- inference jobs ------------------------------------------------------------------------
    def inference_job_logs(self, actor: UserRecord, app: str, app_version: int = -1,
                           owner_id: Optional[uuid.UUID] = None) -> list[LogFile]:
        return self._list(self.inference_jobs.get_inference_job(actor, app, app_version, owner_id).job.id)

    def inference_job_log(self, actor: UserRecord, app: str, app_version: int, name: str,
                          offset: Optional[int] = None, limit: int = DEFAULT_LOG_CHUNK,
                          owner_id: Optional[uuid.UUID] = None) -> LogChunk:
        job_id = self.inference_jobs.get_inference_job(actor, app, app_version, owner_id).job.id
        return self._read(job_id, name, offset, limit)

    # -- files ---------------------------------------------------------------------------------
    def _train_job_id(self, actor, app, app_version, owner_id) -> uuid.UUID:
        with self.store.transaction() as cur:
            return train_job_of_app(cur, actor, app, app_version, owner_id).id

    def _list(self, job_id) -> list[LogFile]:
        with self.store.transaction() as cur:
            recorded = services.list_services(cur, job_id=job_id)
            models = _model_names(cur, job_id)
        folder = os.path.join(self.storage_dir, job_log_dir(job_id))
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        found = []
        for service in recorded:
            stem = file_stem(service_name(service))
            for name in names:
                replica = _REPLICA.search(name)
                if replica is None or name[:replica.start()] != stem:
                    continue
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                model = models.get(service.sub_job_id, '') if service.sub_job_id else \
                    str((service.info or {}).get('model_name', ''))
                found.append(LogFile(name, service.id, service.service_type, int(replica.group(1)), model,
                                     stat.st_size, datetime.datetime.fromtimestamp(stat.st_mtime, datetime.timezone.utc)))
        order = {kind: i for i, kind in enumerate((ServiceType.ADVISOR, ServiceType.TRAIN, ServiceType.PREDICT,
                                                    ServiceType.INFERENCE))}
        return sorted(found, key=lambda f: (order.get(f.service_type, 9), f.model_name, f.name))

    def _read(self, job_id, name: str, offset: Optional[int], limit: int) -> LogChunk:
        if not any(f.name == name for f in self._list(job_id)):
            raise NotFoundError(f'no log {name!r} in this job', resource='log', id=name)
        path = os.path.join(self.storage_dir, job_log_dir(job_id), name)
        limit = max(1, min(limit, MAX_LOG_CHUNK))
        try:
            with open(path, 'rb') as f:
                size = os.fstat(f.fileno()).st_size
                start = max(0, size - limit) if offset is None else min(max(0, offset), size)
                f.seek(start)
                data = f.read(limit)
        except OSError:
            raise NotFoundError(f'no log {name!r} in this job', resource='log', id=name) from None
        return LogChunk(name, size, start, data.decode('utf-8', errors='replace'), start + len(data))


def _model_names(cur, train_job_id) -> dict:
    """{sub-job id: template name} of a train job (none for an inference job)."""
    cur.execute('SELECT s.id, m.name FROM sub_train_jobs s JOIN models m ON m.id = s.model_id '
                'WHERE s.train_job_id = %s', (train_job_id,))
    return {row['id']: row['name'] for row in cur.fetchall()}
