"""What an export reads through the admin's API: a train job, its templates' knob spaces, its trials."""
import datetime
from dataclasses import dataclass
from typing import Optional

from singa.errors import NotFoundError

PAGE = 1000
# Trial statuses an export writes; trials still PENDING or RUNNING are left for a later run.
FINISHED = ('COMPLETED', 'PRUNED', 'ERRORED', 'STOPPED')


@dataclass(frozen=True)
class Template:
    sub_train_job_id: str
    model_id: str
    model_name: str
    knob_config: Optional[dict]       # the knob space as the knob codec writes it; None if deleted


@dataclass(frozen=True)
class ExportedJob:
    job: dict                         # as GET /train_jobs/{app}/{app_version} answers
    templates: dict                   # sub-train job id -> Template
    trials: list                      # finished trials (as GET .../trials answers), by template and number

    @property
    def name(self) -> str:
        return f'{self.job["app"]}-v{self.job["app_version"]}'

    def trials_of(self, sub_train_job_id: str) -> list:
        return [t for t in self.trials if t['sub_train_job_id'] == sub_train_job_id]


def read_train_job(client, app: str, app_version: int = -1) -> ExportedJob:
    """Read a train job the client's user may see, with every finished trial (``client``: a logged-in
    ``singa.client.Client``)."""
    job = client.get_train_job(app, app_version)
    version = job['app_version']
    templates = {}
    for sub in job['sub_train_jobs']:
        try:
            knob_config = client.get_model(sub['model_id'])['knob_config']
        except NotFoundError:           # deleted since (its trials stay readable): knobs go without a space
            knob_config = None
        templates[sub['id']] = Template(sub['id'], sub['model_id'], sub['model_name'], knob_config)
    trials, offset = [], 0
    while True:
        page = client.get_trials_of_train_job(app, version, limit=PAGE, offset=offset)
        trials += page
        offset += len(page)
        if len(page) < PAGE:
            break
    finished = sorted((t for t in trials if t['status'] in FINISHED), key=lambda t: (t['sub_train_job_id'], t['no']))
    return ExportedJob(job, templates, finished)


def parse_time(value: Optional[str]) -> Optional[datetime.datetime]:
    return datetime.datetime.fromisoformat(value) if value else None
