"""Which trials are best: the highest score, ties broken by a documented rule (smaller saved
parameters, then shorter training, then the earliest), the same for the API and for deployment."""
import uuid

from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, recorded_train_job
from singa.constants import TrialStatus
from singa.meta_store import trials

# (score, params_bytes, training seconds), in the order the trials finish.
TRIALS = [(1.0, 5000, 1.0),              # the earliest of the ties, and the largest
          (0.9, 10, 1.0),                # smaller, but not tied
          (1.0, 100, 5.0),
          (1.0 - 1e-12, 100, 2.0),       # a tie up to floating-point noise, and the fastest of the small
          (0.8, None, 1.0)]              # no parameters saved: never deployed


def _job_with_trials(api, user):
    model = api.upload_model(user, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(user, CLASSIFICATION_CSV).get_json()
    with api.ctx.meta_store.transaction() as cur:
        job, sub = recorded_train_job(cur, user.id, dataset['id'], model['id'], app='ties')
    ids = []
    for no, (score, size, seconds) in enumerate(TRIALS, start=1):
        with api.ctx.meta_store.transaction() as cur:
            trial = trials.insert_trial(cur, sub_job_id=sub.id, no=no, model_id=uuid.UUID(model['id']),
                                        knobs={'no': no}, proposal={}, worker_id='w')
            trials.finish_trial(cur, trial.id, status=TrialStatus.COMPLETED.value, score=score,
                                params_id=size and f'params-{no}', params_bytes=size)
            cur.execute("UPDATE trials SET started_at = stopped_at - %s * interval '1 second' WHERE id = %s",
                        (seconds, trial.id))
            ids.append(str(trial.id))
    return job, ids


def test_ties_are_broken_by_size_then_training_time_not_by_arrival(api, model_dev):
    job, ids = _job_with_trials(api, model_dev)
    with api.ctx.meta_store.transaction() as cur:
        ranked = [str(t.id) for t in trials.best_trials_of_train_job(cur, job.id, 10)]
        deployed = [str(t.id) for t in trials.best_trials_of_each_template(cur, job.id, 2)]
        with_unsaved = [str(t.id) for t in trials.best_trials_of_train_job(cur, job.id, 10, with_params=False)]
    assert ranked == [ids[3], ids[2], ids[0], ids[1]]
    assert deployed == [ids[3], ids[2]]
    assert with_unsaved == [ids[3], ids[2], ids[0], ids[1], ids[4]]


def test_the_best_trials_answer_says_which_rule_ranked_them(api, model_dev):
    job, ids = _job_with_trials(api, model_dev)
    response = api.get('/train_jobs/ties/1/trials', model_dev, query_string={'type': 'best', 'max_count': 4})
    assert response.status_code == 200, response.get_data(as_text=True)
    best = response.get_json()
    assert [t['id'] for t in best] == [ids[3], ids[2], ids[0], ids[1]]
    assert [t['tied_with_best'] for t in best] == [True, True, True, False]
    assert [t['params_bytes'] for t in best] == [100, 100, 5000, 10]
    assert {t['rank_rule'] for t in best} == {trials.RANK_RULE} and 'smallest saved parameters' in trials.RANK_RULE
    schema = api.get('/openapi.json').get_json()['components']['schemas']['Trial']
    for trial in best:
        OAS31Validator(schema).validate(trial)
    listed = api.get('/train_jobs/ties/1/trials', model_dev).get_json()
    assert all('rank_rule' not in t and 'tied_with_best' not in t for t in listed)
    for trial in listed:
        OAS31Validator(schema).validate(trial)
