"""Exports of a train job's trials, through the admin's API under gunicorn, to the real libraries:
an Optuna RDB storage (SQLite) and a journal file, each opened by optuna-dashboard's own API, and
MLflow tracking stores (a file store and SQLite), with the trained parameters as an artifact."""
import uuid

import pytest
from werkzeug.test import Client as WsgiClient

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, PASSWORD, recorded_train_job
from singa.client import Client
from singa.config import Settings
from singa.constants import TrialStatus
from singa.export import export_to_mlflow, export_to_optuna
from singa.meta_store import trials
from singa.param_store import FileParamStore, decode_params, param_scope

PARAMS = {'weights': b'\x00\x01trained', 'bias': 0.25}
# (status, knobs, score, intermediate, logged metrics)
TRIALS = [(TrialStatus.COMPLETED, {'kind': 'a', 'lr': 0.01}, 0.8, [[1, 0.5], [2, 0.8]], [{'loss': 0.5}, {'loss': 0.3}]),
          (TrialStatus.PRUNED, {'kind': 'b', 'lr': 0.001}, None, [[1, 0.2]], []),
          (TrialStatus.ERRORED, {'kind': 'a', 'lr': 0.05}, None, [], []),
          (TrialStatus.RUNNING, {'kind': 'b', 'lr': 0.02}, None, [], [])]


@pytest.fixture
def trained(admin_server, base_env, meta_store, tmp_path):
    """A client logged in as a model developer whose train job 'exp' v1 has the trials of TRIALS."""
    settings = Settings.from_env(base_env)
    boss = Client('127.0.0.1', admin_server)
    boss.login(settings.superadmin_email, settings.superadmin_password)
    boss.create_user('exporter@example.com', PASSWORD, 'MODEL_DEVELOPER')
    client = Client('127.0.0.1', admin_server)
    client.login('exporter@example.com', PASSWORD)
    (tmp_path / 'good.py').write_bytes(GOOD_TEMPLATE)
    (tmp_path / 'data.csv').write_bytes(CLASSIFICATION_CSV)
    model = client.create_model('good', 'TABULAR_CLASSIFICATION', str(tmp_path / 'good.py'), 'Good')
    dataset = client.create_dataset('d', 'TABULAR_CLASSIFICATION', str(tmp_path / 'data.csv'))
    params = FileParamStore(str(tmp_path / 'storage' / 'params'))
    with meta_store.transaction() as cur:
        _, sub = recorded_train_job(cur, client.get_current_user()['id'], dataset['id'], model['id'], app='exp')
        for no, (status, knobs, score, intermediate, logged) in enumerate(TRIALS, start=1):
            trial = trials.insert_trial(cur, sub_job_id=sub.id, no=no, model_id=uuid.UUID(model['id']), knobs=knobs,
                                        proposal={'meta': {'phase': 'search'}}, worker_id='w')
            for step, value in intermediate:
                trials.append_intermediate(cur, trial.id, step, value)
            trials.insert_logs(cur, trial.id, [{'type': 'METRICS', 'metrics': m} for m in logged])
            if status != TrialStatus.RUNNING:
                params_id = params.save(PARAMS, scope=param_scope(sub.id)) if score is not None else None
                trials.finish_trial(cur, trial.id, status=status.value, score=score, params_id=params_id,
                                    error='boom' if status == TrialStatus.ERRORED else None)
    return client


def test_optuna_studies_that_optuna_dashboard_opens(trained, tmp_path):
    import optuna
    from optuna_dashboard import wsgi
    for storage in (f'sqlite:///{tmp_path / "studies.db"}', str(tmp_path / 'studies.log')):
        assert export_to_optuna(trained, 'exp', 1, storage) == {'exp-v1-good': 3}
        assert export_to_optuna(trained, 'exp', -1, storage) == {'exp-v1-good': 0}      # again: nothing twice
        opened = storage if '://' in storage else optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(storage))
        study = optuna.load_study(study_name='exp-v1-good', storage=opened)
        assert study.direction == optuna.study.StudyDirection.MAXIMIZE
        assert study.user_attrs['singa_app'] == 'exp' and study.user_attrs['singa_model_name'] == 'good'
        by_no = {t.user_attrs['singa_trial_no']: t for t in study.trials}
        assert sorted(by_no) == [1, 2, 3]                                                 # the running one waits
        best = by_no[1]
        assert best.state == optuna.trial.TrialState.COMPLETE and best.value == 0.8
        assert best.params == {'kind': 'a', 'lr': 0.01} and best.intermediate_values == {1: 0.5, 2: 0.8}
        assert isinstance(best.distributions['lr'], optuna.distributions.FloatDistribution)
        assert best.distributions['lr'].log and best.datetime_complete >= best.datetime_start
        assert by_no[2].state == optuna.trial.TrialState.PRUNED and by_no[3].state == optuna.trial.TrialState.FAIL
        assert by_no[3].user_attrs['error'] == 'boom' and study.best_trial.number == best.number
        # optuna-dashboard's own API lists the study and serves its trials with their parameters.
        dashboard = WsgiClient(wsgi(opened))
        studies = dashboard.get('/api/studies').get_json()['study_summaries']
        [summary] = [s for s in studies if s['study_name'] == 'exp-v1-good']
        detail = dashboard.get(f'/api/studies/{summary["study_id"]}').get_json()
        assert len(detail['trials']) == 3
        assert {p['name'] for t in detail['trials'] for p in t['params']} == {'kind', 'lr'}


@pytest.mark.parametrize('store', ['file', 'sqlite'])
def test_mlflow_runs_with_knobs_metrics_and_parameters(trained, tmp_path, monkeypatch, store):
    from mlflow.tracking import MlflowClient
    monkeypatch.setenv('MLFLOW_ALLOW_FILE_STORE', 'true')       # MLflow 3 keeps its file store on request
    monkeypatch.chdir(tmp_path)             # a database store keeps its artifacts in ./mlruns, as MLflow does
    uri = f'file://{tmp_path / "mlruns"}' if store == 'file' else f'sqlite:///{tmp_path / "mlflow.db"}'
    result = export_to_mlflow(trained, 'exp', 1, uri)
    assert (result['runs_created'], result['runs_skipped']) == (3, 0)
    assert export_to_mlflow(trained, 'exp', 1, uri)['runs_created'] == 0
    tracking = MlflowClient(tracking_uri=uri)
    assert tracking.get_experiment(result['experiment_id']).name == 'singa/exp/v1'
    runs = {int(r.data.tags['singa.trial_no']): r for r in tracking.search_runs([result['experiment_id']])}
    assert sorted(runs) == [1, 2, 3]
    best = runs[1]
    assert best.info.run_name == 'good-1' and best.info.status == 'FINISHED'
    assert best.data.params == {'kind': 'a', 'lr': '0.01'} and best.data.metrics['score'] == 0.8
    assert best.data.tags['singa.status'] == 'COMPLETED' and best.data.tags['singa.phase'] == 'search'
    assert [(m.step, m.value) for m in tracking.get_metric_history(best.info.run_id, 'intermediate_score')] == \
        [(1, 0.5), (2, 0.8)]
    assert [(m.step, m.value) for m in tracking.get_metric_history(best.info.run_id, 'loss')] == [(0, 0.5), (1, 0.3)]
    assert best.info.end_time >= best.info.start_time
    [artifact] = tracking.list_artifacts(best.info.run_id)
    assert artifact.path == 'parameters.singa'
    local = tracking.download_artifacts(best.info.run_id, 'parameters.singa', str(tmp_path))
    with open(local, 'rb') as f:
        assert decode_params(f.read()) == PARAMS
    assert (runs[2].info.status, runs[3].info.status) == ('KILLED', 'FAILED')
    assert runs[3].data.tags['singa.error'] == 'boom' and tracking.list_artifacts(runs[3].info.run_id) == []


def test_exports_name_what_they_need(trained):
    with pytest.raises(ValueError):
        export_to_optuna(trained, 'exp', 1)
    with pytest.raises(ValueError):
        export_to_mlflow(trained, 'exp', 1)
