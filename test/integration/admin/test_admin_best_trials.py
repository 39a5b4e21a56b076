"""Which trials are best (``singa.ranking``): the highest score; trials within the job's tie
tolerance of it tie, and the earliest proposed of them wins, among the trials that meet the job's
constraints; the same for the API, for deployment, and in SQL as in memory."""
import uuid

import pytest
from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, error_of
from singa.advisor.plan import TrialPlan, TrialRecord
from singa.constants import TrialStatus
from singa.meta_store import train_jobs, trials
from singa.ranking import DEFAULT_TIE_TOLERANCE, rank_key, rank_rule, tie_tolerance

# (score, predict_latency_ms, params_bytes), by trial number from 1; the job's validation set has
# 20 rows, so trials within 1/20 of the best tie with it.
TRIALS = [(0.95, 4.0, 5000),             # one example behind the best: a near-tie, and the earliest
          (0.9, 0.5, 10),                # two examples behind: not tied
          (1.0, 2.0, 900),               # the best score
          (1.0 - 1e-12, None, 1),        # a tie up to floating-point noise, its latency unmeasured
          (0.8, 0.1, None),              # no parameters saved: never deployed
          (1.0, 1.0, 100)]               # the best score again, proposed last
TOLERANCE = tie_tolerance(1 / 20)


def _job_with_trials(api, user, *, tolerance=TOLERANCE, constraints=(), rows=TRIALS, app='ties'):
    model = api.upload_model(user, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(user, CLASSIFICATION_CSV).get_json()
    with api.ctx.meta_store.transaction() as cur:
        job = train_jobs.insert_train_job(
            cur, owner_id=user.id, app=app, task='TABULAR_CLASSIFICATION', budget={},
            train_dataset_id=dataset['id'], val_dataset_id=dataset['id'], train_args={},
            advisor_config={'constraints': list(constraints)}, time_budget_seconds=None, tie_tolerance=tolerance)
        sub = train_jobs.insert_sub_train_job(cur, job.id, uuid.UUID(model['id']))
    ids = []
    for no, (score, latency, size) in enumerate(rows, start=1):
        with api.ctx.meta_store.transaction() as cur:
            trial = trials.insert_trial(cur, sub_job_id=sub.id, no=no, model_id=uuid.UUID(model['id']),
                                        knobs={'no': no}, proposal={}, worker_id='w')
            trials.finish_trial(cur, trial.id, status=TrialStatus.COMPLETED.value, score=score,
                                params_id=size and f'params-{no}', params_bytes=size,
                                metrics=None if latency is None else {'predict_latency_ms': latency})
            ids.append(str(trial.id))
    return job, ids


def test_of_the_trials_within_one_example_of_the_best_the_earliest_proposed_wins(api, model_dev):
    job, ids = _job_with_trials(api, model_dev)
    with api.ctx.meta_store.transaction() as cur:
        ranked = [str(t.id) for t in trials.best_trials_of_train_job(cur, job.id, 10)]
        deployed = [str(t.id) for t in trials.best_trials_of_each_template(cur, job.id, 2)]
        with_unsaved = [str(t.id) for t in trials.best_trials_of_train_job(cur, job.id, 10, with_params=False)]
        everything = trials.completed_trials_of_train_job(cur, job.id)
    assert ranked == [ids[0], ids[2], ids[3], ids[5], ids[1]]
    assert deployed == [ids[0], ids[2]]
    assert with_unsaved == [ids[0], ids[2], ids[3], ids[5], ids[1], ids[4]]
    # The rule in memory (what the advisor uses) orders the same trials the same way.
    in_memory = sorted(everything, key=lambda t: rank_key(t.score, t.no, 1.0, TOLERANCE))
    assert [str(t.id) for t in in_memory] == with_unsaved


def test_without_a_resolution_only_exact_ties_tie(api, model_dev):
    job, ids = _job_with_trials(api, model_dev, tolerance=DEFAULT_TIE_TOLERANCE)
    with api.ctx.meta_store.transaction() as cur:
        ranked = [str(t.id) for t in trials.best_trials_of_train_job(cur, job.id, 10)]
    assert ranked == [ids[2], ids[3], ids[5], ids[0], ids[1]]


def test_the_best_trials_answer_says_which_rule_ranked_them_with_the_jobs_tolerance(api, model_dev):
    job, ids = _job_with_trials(api, model_dev)
    response = api.get('/train_jobs/ties/1/trials', model_dev, query_string={'type': 'best', 'max_count': 5})
    assert response.status_code == 200, response.get_data(as_text=True)
    best = response.get_json()
    assert [t['id'] for t in best] == [ids[0], ids[2], ids[3], ids[5], ids[1]]
    assert [t['tied_with_best'] for t in best] == [True, True, True, True, False]
    assert [t['params_bytes'] for t in best] == [5000, 900, 1, 100, 10]
    assert {t['rank_rule'] for t in best} == {rank_rule(TOLERANCE)}
    assert 'within 0.05 of the best score (one example of the validation set)' in best[0]['rank_rule']
    schema = api.get('/openapi.json').get_json()['components']['schemas']['Trial']
    for trial in best:
        OAS31Validator(schema).validate(trial)
    listed = api.get('/train_jobs/ties/1/trials', model_dev).get_json()
    assert all('rank_rule' not in t and 'tied_with_best' not in t for t in listed)
    for trial in listed:
        OAS31Validator(schema).validate(trial)


LATENCY_BOUND = [{'name': 'predict_latency_ms', 'max': 3}]


def test_the_best_trials_and_the_default_deployment_meet_the_jobs_constraints(api, model_dev):
    job, ids = _job_with_trials(api, model_dev, constraints=LATENCY_BOUND)
    with api.ctx.meta_store.transaction() as cur:
        deployed = [str(t.id) for t in trials.best_trials_of_each_template(cur, job.id, 5, job.constraints)]
    assert deployed == [ids[2], ids[5], ids[1]]       # not the slow one, nor the one never measured
    best = api.get('/train_jobs/ties/1/trials', model_dev, query_string={'type': 'best', 'max_count': 5}).get_json()
    assert [t['id'] for t in best] == [ids[2], ids[5], ids[1]]
    assert best[0]['rank_rule'].startswith('among the trials meeting predict_latency_ms <= 3, ')


def test_a_default_deployment_that_no_trial_can_meet_is_409_naming_the_bound(api, model_dev):
    slow = [(1.0, 7.5, 100), (0.9, 9.0, 100), (0.95, None, 100)]
    job, _ = _job_with_trials(api, model_dev, constraints=LATENCY_BOUND, rows=slow)
    with api.ctx.meta_store.transaction() as cur:
        cur.execute("UPDATE train_jobs SET status = 'STOPPED', stopped_at = now() WHERE id = %s", (job.id,))
    error = error_of(api.post('/inference_jobs', model_dev, json={'app': 'ties'}), 409, 'ConflictError', 'app')
    assert "train job's constraint predict_latency_ms <= 3 (predict_latency_ms nearest 7.5)" in error['message']
    empty = api.get('/train_jobs/ties/1/trials', model_dev, query_string={'type': 'best'})
    assert empty.status_code == 200 and empty.get_json() == []


@pytest.mark.parametrize('constraints, expected', [((), 1), (LATENCY_BOUND, 3)])
def test_the_advisors_best_is_the_databases(api, model_dev, constraints, expected):
    job, ids = _job_with_trials(api, model_dev, constraints=constraints)
    with api.ctx.meta_store.transaction() as cur:
        best = trials.best_trials_of_train_job(cur, job.id, 1, with_params=False, constraints=job.constraints)
        everything = trials.completed_trials_of_train_job(cur, job.id)
    plan = TrialPlan(set(), None, None, seed=0, tie_tolerance=job.tie_tolerance, constraints=job.constraints)
    for t in everything:        # as the advisor worker restores them
        plan.add(TrialRecord(no=t.no, knobs=t.knobs, key=(t.no,), status=t.status, score=t.score, metrics=t.values))
    assert plan.best().no == best[0].no == expected
