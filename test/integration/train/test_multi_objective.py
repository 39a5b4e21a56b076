"""Multi-objective tuning end to end (issue 17): a template whose evaluate() names two metrics, a
job tuned for two objectives with Optuna's MO-TPE under a constraint, the platform's own latency
figure, the Pareto front the API answers, and a deployment chosen by a rule."""
import pytest

from metric_templates import SIZED, TWO_METRICS
from singa.objectives import Direction, Objective, dominates

OBJECTIVES = [{'name': 'accuracy', 'direction': 'maximize'}, {'name': 'predict_latency_ms', 'direction': 'minimize'}]


@pytest.fixture
def tuned(platform, iris, tmp_path):
    """A finished two-objective job of 12 trials, with a latency bound of 2.5 ms."""
    dev = platform.make_user('dev')
    train_id, val_id = platform.upload_dataset(dev, iris['train']), platform.upload_dataset(dev, iris['val'])
    path = tmp_path / 'two_metrics.py'
    path.write_text(TWO_METRICS)
    model = platform.upload_model(dev, str(path), 'TwoMetrics')
    job = platform.create_job(dev, 'mo', train_id, val_id, [model], {'MODEL_TRIAL_COUNT': 12, 'TIME_HOURS': 0.1},
                              advisor='TPE', seed=3, objectives=OBJECTIVES,
                              constraints=[{'name': 'predict_latency_ms', 'max': 2.5}])
    assert job['advisor_config']['objectives'] == OBJECTIVES
    assert job['advisor_config']['constraints'] == [{'name': 'predict_latency_ms', 'max': 2.5}]
    job = platform.wait_job(dev, 'mo', timeout=180)
    assert job['status'] == 'STOPPED', job
    return dev, train_id, val_id, model


def test_two_objectives_give_a_correct_pareto_front_with_measured_latency(platform, tuned):
    dev = tuned[0]
    trials = [t for t in platform.trials(dev, 'mo') if t['status'] == 'COMPLETED']
    assert len(trials) == 12
    for t in trials:
        assert set(t['metrics']) == {'accuracy', 'f1', 'predict_latency_ms'}
        assert t['score'] == t['metrics']['accuracy']            # a dict's first metric is the score
        assert t['metrics']['predict_latency_ms'] >= t['knobs']['n'] / 10   # predict sleeps n/10 ms
        assert t['metrics']['predict_latency_ms'] < 1000
    front = platform.call('GET', '/train_jobs/mo/-1/pareto', dev)
    assert front['objectives'] == OBJECTIVES
    objectives = (Objective('accuracy', Direction.MAXIMIZE), Objective('predict_latency_ms', Direction.MINIMIZE))

    def vector(t):
        return [t['metrics']['accuracy'], t['metrics']['predict_latency_ms']]
    feasible = [t for t in trials if t['metrics']['predict_latency_ms'] <= 2.5]
    expected = {t['id'] for t in feasible if not any(dominates(vector(o), vector(t), objectives) for o in feasible)}
    assert expected and {t['id'] for t in front['trials']} == expected
    for t in front['trials']:
        assert t['values']['accuracy'] == t['metrics']['accuracy'] and t['values']['params_bytes'] == t['params_bytes']
    # The search ran as a two-objective study: the admin shows it, and the advisor logged no error.
    assert 'Traceback' not in platform.worker_logs()


def test_deploy_by_rule_picks_the_most_accurate_under_a_bound_and_refuses_an_impossible_one(platform, tuned):
    dev = tuned[0]
    trials = [t for t in platform.trials(dev, 'mo') if t['status'] == 'COMPLETED']
    bound = sorted(t['metrics']['predict_latency_ms'] for t in trials)[len(trials) // 2]
    rule = {'objective': 'accuracy', 'direction': 'maximize', 'where': [{'name': 'predict_latency_ms', 'max': bound}]}
    error = platform.call('POST', '/inference_jobs', dev, expect=409, json={
        'app': 'mo', 'select': {'objective': 'accuracy', 'where': [{'name': 'predict_latency_ms', 'max': 0.001}]}})['error']
    assert error['field'] == 'select' and 'predict_latency_ms <= 0.001' in error['message']
    for bad, status in (({'objective': 'accuracy', 'direction': 'up'}, 400), ({'objective': 'not a name'}, 400),
                        ({'objective': 'accuracy', 'where': [{'name': 'f1', 'below': 1}]}, 400),
                        ({'objective': 'accuracy', 'where': [{'name': 'f1', 'min': 1, 'max': 0}]}, 409)):
        error = platform.call('POST', '/inference_jobs', dev, expect=status, json={'app': 'mo', 'select': bad})['error']
        assert error['field'] == 'select', error
    job = platform.call('POST', '/inference_jobs', dev, json={'app': 'mo', 'select': rule})
    try:
        within = [t for t in trials if t['metrics']['predict_latency_ms'] <= bound]
        best = max(t['metrics']['accuracy'] for t in within)
        assert len(job['workers']) == 1 and job['config']['select'] == rule
        chosen = next(t for t in trials if t['id'] == job['workers'][0]['trial_id'])
        assert chosen['metrics']['accuracy'] == best and chosen['metrics']['predict_latency_ms'] <= bound
        assert job['workers'][0]['metrics']['predict_latency_ms'] == chosen['metrics']['predict_latency_ms']
        assert job['workers'][0]['metrics']['accuracy'] == best
    finally:
        platform.call('POST', '/inference_jobs/mo/-1/stop', dev)


@pytest.mark.parametrize('extra, field, status', [
    ({'objectives': [{'name': 'accuracy', 'direction': 'upward'}]}, 'objectives', 400),
    ({'objectives': [{'name': 'bad name'}]}, 'objectives', 400),
    ({'objectives': [{'direction': 'minimize'}]}, 'objectives', 400),
    ({'objectives': []}, 'objectives', 400),
    ({'constraints': [{'name': 'predict_latency_ms', 'below': 5}]}, 'constraints', 400),
    # Well formed, but nothing could meet them or the search cannot pursue them: 409.
    ({'objectives': [{'name': 'accuracy'}, {'name': 'accuracy', 'direction': 'minimize'}]}, 'objectives', 409),
    ({'constraints': [{'name': 'predict_latency_ms', 'min': 5, 'max': 1}]}, 'constraints', 409),
    ({'objectives': OBJECTIVES, 'pruner': 'MEDIAN'}, 'pruner', 409),
    ({'objectives': OBJECTIVES, 'advisor': 'CMAES'}, 'advisor', 409),
])
def test_bad_objectives_and_constraints_are_refused_naming_the_field(platform, iris, extra, field, status):
    dev = platform.make_user('dev')
    train_id, val_id = platform.upload_dataset(dev, iris['train']), platform.upload_dataset(dev, iris['val'])
    error = platform.create_job(dev, 'bad', train_id, val_id, None, {'MODEL_TRIAL_COUNT': 1}, expect=status,
                                **extra)['error']
    assert error['field'] == field, error


SIZE_OBJECTIVES = [{'name': 'accuracy', 'direction': 'maximize'}, {'name': 'params_bytes', 'direction': 'minimize'}]


def non_dominated(trials: list, objectives: list) -> set:
    """The ids of ``trials`` (completed, as GET .../trials lists them) that no other dominates."""
    goals = [Objective(o['name'], o['direction']) for o in objectives]

    def vector(t):
        values = dict(t['metrics'], score=t['score'], params_bytes=t['params_bytes'])
        return [values[o['name']] for o in objectives]
    return {t['id'] for t in trials if not any(dominates(vector(o), vector(t), goals) for o in trials)}


def test_a_front_across_templates_on_opposite_directions_and_its_resume(platform, iris, tmp_path):
    dev = platform.make_user('dev')
    train_id, val_id = platform.upload_dataset(dev, iris['train']), platform.upload_dataset(dev, iris['val'])
    path = tmp_path / 'sized.py'
    path.write_text(SIZED)
    models = [platform.upload_model(dev, str(path), cls) for cls in ('Sized', 'Lean')]
    platform.create_job(dev, 'sized', train_id, val_id, models, {'MODEL_TRIAL_COUNT': 6, 'TIME_HOURS': 0.1},
                        advisor='TPE', seed=5, objectives=SIZE_OBJECTIVES)
    job = platform.wait_job(dev, 'sized', timeout=180)
    assert job['status'] == 'STOPPED', [t['error'] for t in platform.trials(dev, 'sized')] + [job['error']]

    def check_front(count: int) -> None:
        trials = [t for t in platform.trials(dev, 'sized') if t['status'] == 'COMPLETED']
        assert len(trials) == count
        answer = platform.call('GET', '/train_jobs/sized/-1/pareto', dev, query_string={'others': 'true'})
        assert answer['objectives'] == SIZE_OBJECTIVES and answer['constraints'] == []
        front = {t['id'] for t in answer['trials']}
        assert front == non_dominated(trials, SIZE_OBJECTIVES)
        assert {t['model_name'] for t in answer['trials']} == {'Sized-sized.py', 'Lean-sized.py'}
        # with others=true, the rest of the completed trials, each meeting the (absent) constraints
        assert {t['id'] for t in answer['others']} == {t['id'] for t in trials} - front
        assert all(t['feasible'] for t in answer['trials'] + answer['others'])
        # the front on other objectives, named in the query: those of the same stored trials
        latency = [SIZE_OBJECTIVES[0], {'name': 'predict_latency_ms', 'direction': 'minimize'}]
        other = platform.call('GET', '/train_jobs/sized/-1/pareto', dev,
                              query_string={'objectives': 'accuracy:maximize,predict_latency_ms:minimize'})
        assert other['objectives'] == latency and 'others' not in other
        assert {t['id'] for t in other['trials']} == non_dominated(trials, latency)

    check_front(12)
    sized = [t for t in platform.trials(dev, 'sized') if t['model_name'] == 'Sized-sized.py']
    assert len({t['params_bytes'] for t in sized}) > 1      # the size is a real objective: it varies

    # Resumed, the job keeps its objectives: the advisors rebuild a two-objective study from the
    # recorded trials, and the front covers the old trials and the new ones.
    resumed = platform.call('POST', '/train_jobs/sized/-1/resume', dev, json={'budget': {'MODEL_TRIAL_COUNT': 3}})
    assert resumed['advisor_config']['objectives'] == SIZE_OBJECTIVES
    assert platform.wait_job(dev, 'sized', timeout=180)['status'] == 'STOPPED'
    check_front(18)
    assert 'Traceback' not in platform.worker_logs()


@pytest.mark.parametrize('objectives, status', [
    ('accuracy', 400), ('accuracy:upward,f1:maximize', 400), ('accuracy:maximize;f1:minimize', 400),
    ('a:maximize,b:maximize,c:maximize,d:maximize,e:maximize', 400),
    ('accuracy:maximize,accuracy:minimize', 409)])
def test_bad_objectives_of_a_front_are_refused_naming_the_field(platform, objectives, status):
    dev = platform.make_user('dev')
    error = platform.call('GET', '/train_jobs/front/-1/pareto', dev, expect=status,
                          query_string={'objectives': objectives})['error']
    assert error['field'] == 'objectives', error
