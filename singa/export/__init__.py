"""Export a train job's trials to the tools people already use: an Optuna study (which
optuna-dashboard opens) and MLflow runs.

    from singa.client import Client
    from singa.export import export_to_mlflow, export_to_optuna

    client = Client('localhost', 3000)
    client.login(email, password)
    export_to_optuna(client, 'my-app', 1, 'sqlite:///studies.db')      # then: optuna-dashboard sqlite:///studies.db
    export_to_mlflow(client, 'my-app', 1, 'sqlite:///mlflow.db')       # then: mlflow ui --backend-store-uri ...

The exports run on the client's side: they read the job, its templates, trials, logs and trained
parameters through the admin's API as the logged-in user, and write to a store the user names. So
the admin needs neither MLflow nor Optuna's storages, never connects to a database or a tracking
server a user names (no SSRF), and the user's credentials for their store stay on their machine.
Both are safe to run again: a trial already exported (found by its ``singa_trial_id``) is skipped.
MLflow is an extra (``pip install 'singa-auto[mlflow]'``); Optuna is always there.
"""
from singa.export.source import ExportedJob, read_train_job


def export_to_optuna(client, app: str, app_version: int = -1, storage=None, study_prefix=None) -> dict:
    """See ``singa.export.optuna_study.export_to_optuna``."""
    from singa.export.optuna_study import export_to_optuna as export
    return export(client, app, app_version, storage, study_prefix)


def export_to_mlflow(client, app: str, app_version: int = -1, tracking_uri: str = None, experiment_name=None,
                     with_parameters: bool = True) -> dict:
    """See ``singa.export.mlflow_runs.export_to_mlflow``."""
    from singa.export.mlflow_runs import export_to_mlflow as export
    return export(client, app, app_version, tracking_uri, experiment_name, with_parameters)


__all__ = ['ExportedJob', 'export_to_mlflow', 'export_to_optuna', 'read_train_job']
