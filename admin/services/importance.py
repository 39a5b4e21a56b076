"""Hyperparameter importance of each template of a train job (the web admin's importance plot).

The caller must be able to see the job (as for its trials). Each template's importance is computed
from its completed trials by ``singa.advisor.importance`` (the Optuna side lives there).
"""
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from singa.admin.services.train_jobs import train_job_of_app
from singa.constants import TrialStatus
from singa.meta_store import train_jobs, trials
from singa.meta_store import models as models_repo
from singa.meta_store.records import UserRecord

if TYPE_CHECKING:
    from singa.advisor.importance import KnobImportance


@dataclass(frozen=True)
class TemplateImportance:
    sub_train_job_id: uuid.UUID
    model_id: uuid.UUID
    model_name: str
    result: 'KnobImportance'


def param_importances(store, actor: UserRecord, app: str, app_version: int,
                      owner_id: Optional[uuid.UUID] = None) -> list[TemplateImportance]:
    """One entry per template of the job, in the order the job lists them."""
    # Imported here: Optuna would add a third of a second to every admin worker's start.
    from singa.advisor.importance import knob_importances

    inputs = []
    with store.transaction() as cur:
        job = train_job_of_app(cur, actor, app, app_version, owner_id)
        for sub in train_jobs.list_sub_train_jobs(cur, job.id):
            model = models_repo.get_model(cur, sub.model_id, include_deleted=True)
            finished = [(t.knobs, t.score) for t in trials.list_trials_of_sub_job(cur, sub.id)
                        if t.status == TrialStatus.COMPLETED and t.score is not None]
            inputs.append((sub, model, finished))
    # The forest is fitted outside the transaction: no connection is held while it runs.
    return [TemplateImportance(sub.id, sub.model_id, model.name if model else '',
                               knob_importances(model.knob_config if model else {}, finished))
            for sub, model, finished in inputs]
