"""The web admin's routes: the page shell and its assets, the browser redirect at /, and the
hyperparameter importance endpoint its job page draws."""
import random
import uuid

from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE
from singa.constants import TrialStatus
from singa.meta_store import train_jobs, trials

BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'


def test_browsers_are_sent_to_the_web_admin_and_api_clients_keep_json(api):
    response = api.get('/', headers={'Accept': BROWSER_ACCEPT})
    assert response.status_code == 302 and response.headers['Location'] == '/web/'
    for accept in ('*/*', 'application/json', None):
        response = api.get('/', headers={'Accept': accept} if accept else {})
        assert response.status_code == 200 and response.get_json()['status'] == 'ok'


def test_every_page_path_answers_the_shell_with_a_strict_policy(api):
    for path in ('/web/', '/web/login', '/web/train-jobs/app/3', '/web/anything/else'):
        response = api.get(path)
        assert response.status_code == 200 and response.mimetype == 'text/html'
        html = response.get_data(as_text=True)
        assert '<script type="module" src="/web/static/app.js"></script>' in html
        policy = response.headers['Content-Security-Policy']
        assert "default-src 'self'" in policy and "script-src 'self';" in policy
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers['X-Content-Type-Options'] == 'nosniff'


def test_static_files_are_served_with_their_types_and_nothing_outside(api):
    script = api.get('/web/static/app.js')
    assert script.status_code == 200 and script.mimetype == 'text/javascript'
    assert api.get('/web/static/style.css').mimetype == 'text/css'
    chart_library = api.get('/web/static/vendor/echarts/echarts.min.js')
    assert chart_library.status_code == 200 and len(chart_library.get_data()) > 500_000
    for path in ('/web/static/nope.js', '/web/static/../routes/web.py', '/web/static/%2e%2e/index.html'):
        response = api.get(path)
        assert response.status_code == 404 and response.get_json()['error']['type'] == 'NotFoundError'


def _job_with_trials(api, user, outcomes):
    """A train job of ``user`` with one template and finished trials ``[(knobs, score), ...]``."""
    model = api.upload_model(user, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(user, CLASSIFICATION_CSV).get_json()
    with api.ctx.meta_store.transaction() as cur:
        job = train_jobs.insert_train_job(
            cur, owner_id=uuid.UUID(user.id), app='imp', task='TABULAR_CLASSIFICATION', budget={},
            train_dataset_id=dataset['id'], val_dataset_id=dataset['id'], train_args={}, advisor_config={},
            time_budget_seconds=None)
        sub = train_jobs.insert_sub_train_job(cur, job.id, uuid.UUID(model['id']))
        for no, (knobs, score) in enumerate(outcomes, start=1):
            trial = trials.insert_trial(cur, sub_job_id=sub.id, no=no, model_id=uuid.UUID(model['id']), knobs=knobs,
                                        proposal={}, worker_id='w')
            trials.finish_trial(cur, trial.id, status=TrialStatus.COMPLETED.value, score=score)
    return model


def test_importance_ranks_the_knob_that_drives_the_score_first(api, model_dev):
    rng = random.Random(1)
    outcomes = []
    for _ in range(30):
        knobs = {'kind': rng.choice(['a', 'b']), 'lr': 10 ** rng.uniform(-4, -1)}
        outcomes.append((knobs, (0.9 if knobs['kind'] == 'a' else 0.1) + rng.uniform(0, 0.01)))
    model = _job_with_trials(api, model_dev, outcomes)
    response = api.get('/train_jobs/imp/1/importance', model_dev)
    assert response.status_code == 200
    [entry] = response.get_json()
    schema = api.get('/openapi.json').get_json()['components']['schemas']['KnobImportance']
    OAS31Validator(schema).validate(entry)
    assert entry['model_id'] == model['id'] and entry['model_name'] == 'm' and entry['trials_used'] == 30
    assert list(entry['importances']) == ['kind', 'lr'] and entry['importances']['kind'] > 0.9
    assert abs(sum(entry['importances'].values()) - 1) < 1e-6
    assert entry['method'] == 'fANOVA' and entry['note'] is None and entry['not_assessed'] == []


def test_importance_explains_why_it_has_nothing_to_say(api, model_dev):
    _job_with_trials(api, model_dev, [({'kind': 'a', 'lr': 0.01}, 0.5), ({'kind': 'b', 'lr': 0.02}, 0.6)])
    [entry] = api.get('/train_jobs/imp/1/importance', model_dev).get_json()
    assert entry['importances'] == {} and entry['trials_used'] == 2
    assert entry['note'] == 'needs at least 3 finished trials with a score'


def test_importance_of_another_users_job_is_not_found(api, model_dev, other_dev):
    _job_with_trials(api, model_dev, [])
    response = api.get('/train_jobs/imp/1/importance', other_dev)
    assert response.status_code == 404 and response.get_json()['error']['type'] == 'NotFoundError'
    assert api.get('/train_jobs/imp/1/importance').status_code == 401
