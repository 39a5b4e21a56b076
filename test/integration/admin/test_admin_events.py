"""The audit log: every change is an event with its owner and actor, recorded in the transaction of
the change (whichever process makes it); admins read every event, other users their own, paged and
filtered by kind, job and time."""
import datetime
import uuid

from openapi_schema_validator import OAS31Validator

from admin_helpers import CLASSIFICATION_CSV, GOOD_TEMPLATE, error_of, recorded_train_job
from singa import lifecycle
from singa.constants import TrialStatus
from singa.lifecycle import EndCause, JobEnd
from singa.meta_store import inference_jobs, trials


def _train_job(api, user, scores):
    """A train job of ``user`` whose trials complete with ``scores`` in turn, then ends (as an advisor would)."""
    model = api.upload_model(user, GOOD_TEMPLATE).get_json()
    dataset = api.upload_dataset(user, CLASSIFICATION_CSV).get_json()
    with api.ctx.meta_store.transaction() as cur:
        job, sub = recorded_train_job(cur, user.id, dataset['id'], model['id'], app='audit')
    with api.ctx.meta_store.transaction() as cur:
        lifecycle.start_sub_job(cur, sub.id, job.id)
    for no, score in enumerate(scores, start=1):
        with api.ctx.meta_store.transaction() as cur:
            trial = trials.insert_trial(cur, sub_job_id=sub.id, no=no, model_id=uuid.UUID(model['id']),
                                        knobs={'kind': 'a', 'lr': 0.01}, proposal={}, worker_id='w')
            status = TrialStatus.ERRORED.value if score is None else TrialStatus.COMPLETED.value
            trials.finish_trial(cur, trial.id, status=status, score=score, error=score is None and 'boom' or None)
    with api.ctx.meta_store.transaction() as cur:
        lifecycle.end_sub_job(cur, sub.id, JobEnd(EndCause.TRIAL_BUDGET), by='advisor')
    return job


def events_of(api, user, query=''):
    response = api.get(f'/events{query}', user)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_train_job_tells_its_story(api, model_dev):
    job = _train_job(api, model_dev, [0.5, 0.4, None, 0.7])
    story = events_of(api, model_dev, f'?job_id={job.id}&order=asc')
    assert [e['kind'] for e in story] == [
        'train_job_started', 'trial_completed', 'best_score_improved', 'trial_completed', 'trial_errored',
        'trial_completed', 'best_score_improved', 'sub_train_job_ended', 'train_job_stopped']
    best = [e['data'] for e in story if e['kind'] == 'best_score_improved']
    assert [(b['score'], b['previous_best']) for b in best] == [(0.5, None), (0.7, 0.5)]
    assert all(e['owner_id'] == model_dev.id and e['actor_id'] is None for e in story)  # the platform did these
    completed = story[1]['data']
    assert completed['trial_no'] == 1 and completed['score'] == 0.5 and completed['duration_seconds'] >= 0
    assert story[4]['data']['error'] == 'boom'
    schema = api.get('/openapi.json').get_json()['components']['schemas']['Event']
    for event in story:
        OAS31Validator(schema).validate(event)


def test_inference_job_events_name_who_stopped_it(api, model_dev):
    job = _train_job(api, model_dev, [0.9])
    with api.ctx.meta_store.transaction() as cur:
        inference = inference_jobs.insert_inference_job(cur, owner_id=uuid.UUID(model_dev.id), train_job_id=job.id,
                                                        budget={}, config={}, is_public=False, description='')
    with api.ctx.meta_store.transaction() as cur:
        assert lifecycle.inference_job_ready(cur, inference.id)
        assert not lifecycle.inference_job_ready(cur, inference.id)
        assert lifecycle.end_inference_job(cur, inference.id, JobEnd(EndCause.USER_STOP), actor_id=uuid.UUID(model_dev.id))
    story = events_of(api, model_dev, f'?job_id={inference.id}&order=asc')
    assert [(e['kind'], e['actor_id']) for e in story] == [('inference_job_ready', None),
                                                         ('inference_job_stopped', model_dev.id)]


def test_users_see_their_own_events_and_admins_every_one(api, app_dev, other_app_dev, admin_user):
    dataset = api.upload_dataset(app_dev, CLASSIFICATION_CSV).get_json()
    api.delete(f'/datasets/{dataset["id"]}', app_dev)
    api.upload_dataset(other_app_dev, CLASSIFICATION_CSV)
    assert api.delete('/users', admin_user, json={'email': other_app_dev.email}).status_code == 200
    mine = events_of(api, app_dev)
    assert [e['kind'] for e in mine] == ['dataset_deleted', 'dataset_created', 'user_created']   # newest first
    assert mine[0]['owner_id'] == mine[0]['actor_id'] == app_dev.id and mine[0]['subject_id'] == dataset['id']
    assert mine[2]['subject_id'] == app_dev.id and mine[2]['actor_id'] != app_dev.id   # the superadmin made it
    everyone = events_of(api, admin_user)
    [ban] = [e for e in everyone if e['kind'] == 'user_banned']
    assert ban['owner_id'] == other_app_dev.id and ban['actor_id'] == admin_user.id
    assert {e['owner_id'] for e in everyone} >= {app_dev.id, other_app_dev.id, admin_user.id}
    # An admin may narrow the log to one user: what they own or caused.
    about_other = events_of(api, admin_user, f'?user_id={other_app_dev.id}')
    assert {e['kind'] for e in about_other} == {'user_created', 'dataset_created', 'user_banned'}
    error_of(api.get(f'/events?user_id={other_app_dev.id}', app_dev), 404, 'NotFoundError')
    assert events_of(api, app_dev, f'?user_id={app_dev.id}') == mine


def test_the_log_pages_and_filters(api, app_dev):
    for n in range(5):
        api.upload_dataset(app_dev, CLASSIFICATION_CSV, name=f'ds{n}')
    first = events_of(api, app_dev, '?kind=dataset_created&limit=2')
    assert [e['data']['name'] for e in first] == ['ds4', 'ds3']
    second = events_of(api, app_dev, f'?kind=dataset_created&limit=2&before_id={first[-1]["id"]}')
    assert [e['data']['name'] for e in second] == ['ds2', 'ds1']
    following = events_of(api, app_dev, f'?kind=dataset_created&order=asc&after_id={second[0]["id"]}')
    assert [e['data']['name'] for e in following] == ['ds3', 'ds4']
    middle = datetime.datetime.fromisoformat(second[0]['time'])
    since = events_of(api, app_dev, '?kind=dataset_created&since=' + middle.isoformat().replace('+00:00', 'Z'))
    until = events_of(api, app_dev, '?kind=dataset_created&until=' + middle.isoformat().replace('+', '%2B'))
    assert [e['data']['name'] for e in since] == ['ds4', 'ds3', 'ds2']
    assert [e['data']['name'] for e in until] == ['ds1', 'ds0']
    assert events_of(api, app_dev, '?kind=model_created') == []
    # RFC 3339 offsets up to 23:59 (PostgreSQL's own stop at 15:59), and times at the ends of the calendar
    far = (middle + datetime.timedelta(hours=20, minutes=21)).replace(tzinfo=None).isoformat() + '%2B20:21'
    assert [e['data']['name'] for e in events_of(api, app_dev, f'?kind=dataset_created&since={far}')] == \
        ['ds4', 'ds3', 'ds2']
    assert len(events_of(api, app_dev, '?kind=dataset_created&since=0001-01-01T00:00:00%2B23:59')) == 5
    assert events_of(api, app_dev, '?kind=dataset_created&since=9999-12-31T23:59:59-23:59') == []
    for bad in ('?kind=nope', '?limit=0', '?limit=1001', '?since=yesterday', '?order=up', '?after_id=-1'):
        assert api.get(f'/events{bad}', app_dev).status_code == 400, bad
