"""Continuing a search, end to end through the admin API with real workers: resume an ended job,
warm-start a new one from an earlier one, enqueue trials with given knobs, change a live budget."""
import threading
from datetime import datetime, timedelta, timezone

from test_train_jobs_api import EIGHT_KNOB_SETS
from singa.admin.services.deployer import Deployer, job_redis_credentials
from singa.admin.services.reconciler import Reconciler

# The same 8 knob sets, each trial taking about a second (so that a job is live long enough).
SLOW_EIGHT = EIGHT_KNOB_SETS.replace('        pass\n', '        __import__("time").sleep(1.0)\n', 1)
# With a cheap-search policy (a search/final split is planned): search trials are quick, a final
# (full) trial takes 5 s, so that a job is live in its final phase long enough to change its budget.
SPLIT_EIGHT = EIGHT_KNOB_SETS.replace(
    'CategoricalKnob, IntegerKnob', 'CategoricalKnob, IntegerKnob, PolicyKnob', 1).replace(
    '"balanced": CategoricalKnob([False, True])}',
    '"balanced": CategoricalKnob([False, True]), "early": PolicyKnob("EARLY_STOP")}', 1).replace(
    '        pass\n', '        __import__("time").sleep(0.2 if self.knobs["early"] else 5.0)\n', 1)


def knob_sets(trials) -> set:
    return {tuple(sorted(t['knobs'].items())) for t in trials}


def ended_causes(platform, user, job_id) -> list:
    ended = platform.call('GET', '/events', user, query_string={'job_id': job_id, 'kind': 'sub_train_job_ended'})
    return [e['data']['cause'] for e in ended]


def test_a_resumed_job_keeps_its_trials_numbers_new_ones_after_them_and_never_repeats(platform, setup):
    dev, train_id, val_id, template = setup
    eight = template(EIGHT_KNOB_SETS, 'Eight')
    job = platform.create_job(dev, 'again', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 3, 'TIME_HOURS': 0.1},
                              advisor='TPE', seed=0)
    platform.call('POST', '/train_jobs/again/1/resume', dev, expect=409, json={})     # live: stop it first
    first = platform.wait_job(dev, 'again')
    assert first['status'] == 'STOPPED' and first['trials_completed'] == 3
    old = platform.trials(dev, 'again')
    # Bad budgets are refused like create's; another user's job is not found.
    platform.call('POST', '/train_jobs/again/1/resume', dev, expect=400, json={'budget': {'MODEL_TRIAL_COUNT': 0}})
    platform.call('POST', '/train_jobs/again/1/resume', dev, expect=400, json={'budget': {'TIME_HOURS': 1e6}})
    platform.call('POST', '/train_jobs/again/1/resume', platform.make_user('other'), expect=404, json={})
    resumed = platform.call('POST', '/train_jobs/again/1/resume', dev,
                            json={'budget': {'MODEL_TRIAL_COUNT': 3, 'TIME_HOURS': 0.1}})
    assert resumed['id'] == job['id'] and resumed['app_version'] == 1 and resumed['status'] in ('STARTED', 'RUNNING')
    assert resumed['resumed_at'] and resumed['deadline_at'] > first['deadline_at']
    second = platform.wait_job(dev, 'again')
    assert second['status'] == 'STOPPED' and second['error'] is None and second['trials_completed'] == 6, second
    trials = platform.trials(dev, 'again')
    assert sorted(t['no'] for t in trials) == [1, 2, 3, 4, 5, 6]
    assert {t['id'] for t in old} <= {t['id'] for t in trials}
    assert len(knob_sets(trials)) == 6            # the rebuilt advisor repeated none of the old knob sets
    # A larger budget than the space has left: the 2 knob sets left, then the search is exhausted.
    platform.call('POST', '/train_jobs/again/-1/resume', dev, json={'budget': {'MODEL_TRIAL_COUNT': 10}})
    third = platform.wait_job(dev, 'again')
    trials = platform.trials(dev, 'again')
    assert third['status'] == 'STOPPED' and len(trials) == 8 and len(knob_sets(trials)) == 8, third
    assert sorted(ended_causes(platform, dev, job['id'])) == ['SEARCH_EXHAUSTED', 'TRIAL_BUDGET', 'TRIAL_BUDGET']
    resumes = platform.call('GET', '/events', dev, query_string={'job_id': job['id'], 'kind': 'train_job_resumed'})
    assert len(resumes) == 2


def test_resuming_respects_the_quota_of_running_jobs(platform, setup):
    dev, train_id, val_id, template = setup
    eight = template(SLOW_EIGHT, 'Eight')
    platform.create_job(dev, 'one', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.1})
    platform.wait_job(dev, 'one')
    boss = platform.login_superadmin()
    user_id = platform.call('GET', '/train_jobs/one/1', dev)['owner_id']
    platform.call('PUT', f'/users/{user_id}/quota', boss, json={'running_jobs': 1})
    platform.create_job(dev, 'two', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 8, 'TIME_HOURS': 0.1})
    refused = platform.call('POST', '/train_jobs/one/1/resume', dev, expect=403, json={})
    assert refused['error']['type'] == 'QuotaExceededError'
    platform.call('POST', '/train_jobs/two/1/stop', dev)


def test_a_warm_started_job_is_told_the_earlier_trials_and_skips_their_knob_sets(platform, setup, tmp_path):
    dev, train_id, val_id, template = setup
    eight = template(EIGHT_KNOB_SETS, 'Eight')
    platform.create_job(dev, 'early', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 3, 'TIME_HOURS': 0.1})
    platform.wait_job(dev, 'early')
    old = knob_sets(platform.trials(dev, 'early'))
    platform.create_job(dev, 'early', train_id, val_id, [eight], {'TIME_HOURS': 0.1}, expect=404,
                        warm_start_from={'app': 'nope', 'app_version': -1})
    job = platform.create_job(dev, 'late', train_id, val_id, [eight], {'TIME_HOURS': 0.1},
                              warm_start_from={'app': 'early', 'app_version': 1})
    assert job['advisor_config']['warm_start_from']['app'] == 'early'
    job = platform.wait_job(dev, 'late')
    new = knob_sets(platform.trials(dev, 'late'))
    assert job['status'] == 'STOPPED' and len(new) == 5 and not new & old and len(new | old) == 8, job
    assert ended_causes(platform, dev, job['id']) == ['SEARCH_EXHAUSTED']
    assert knob_sets(platform.trials(dev, 'early')) == old and len(platform.trials(dev, 'early')) == 3
    # Another user cannot warm-start from it.
    other = platform.make_user('other')
    other_eight = platform.upload_model(other, str(tmp_path / 'eight.py'), 'Eight')
    platform.create_job(other, 'theirs', train_id, val_id, [other_eight], {'TIME_HOURS': 0.1}, expect=404,
                        warm_start_from={'app': 'early', 'app_version': 1})


def test_enqueued_trials_run_first_with_their_knobs_and_bad_knobs_are_refused(platform, setup):
    dev, train_id, val_id, template = setup
    eight = template(SLOW_EIGHT, 'Eight')
    name = platform.call('GET', f'/models/{eight}', dev)['name']
    platform.create_job(dev, 'queue', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 4, 'TIME_HOURS': 0.1},
                        advisor='TPE', seed=0)
    wanted = [{'criterion': 'entropy', 'depth': 3, 'balanced': True}, {'criterion': 'gini', 'depth': 3, 'balanced': False}]
    queued = [platform.call('POST', '/train_jobs/queue/1/trials', dev, json={'model': name, 'knobs': k})
              for k in wanted]
    assert [q['knobs'] for q in queued] == wanted and all(q['trial_id'] is None for q in queued)
    for knobs, field in (({'criterion': 'entropy', 'depth': 7, 'balanced': True}, 'knobs.depth'),
                         ({'criterion': 'entropy', 'depth': 3}, 'knobs.balanced'),
                         ({'criterion': 'entropy', 'depth': 3, 'balanced': True, 'colour': 1}, 'knobs.colour')):
        refused = platform.call('POST', '/train_jobs/queue/1/trials', dev, expect=400,
                                json={'model': name, 'knobs': knobs})
        assert refused['error']['type'] == 'InvalidKnobsError' and refused['error']['field'] == field
    platform.call('POST', '/train_jobs/queue/1/trials', dev, expect=409, json={'model': name, 'knobs': wanted[0]})
    platform.call('POST', '/train_jobs/queue/1/trials', dev, expect=404, json={'model': 'Nine', 'knobs': wanted[0]})
    job = platform.wait_job(dev, 'queue')
    trials = sorted(platform.trials(dev, 'queue'), key=lambda t: t['no'])
    assert job['status'] == 'STOPPED' and len(trials) == 4 and len(knob_sets(trials)) == 4
    # At most one trial was proposed before they were enqueued; they ran next, in order.
    position = [next(t['no'] for t in trials if t['knobs'] == k) for k in wanted]
    assert position in ([1, 2], [2, 3]), trials
    platform.call('POST', '/train_jobs/queue/1/trials', dev, expect=409,
                  json={'model': name, 'knobs': {'criterion': 'gini', 'depth': 2, 'balanced': True}})


def test_a_live_budget_can_be_raised_and_lowered(platform, setup):
    dev, train_id, val_id, template = setup
    eight = template(SLOW_EIGHT, 'Eight')
    platform.create_job(dev, 'raise', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.1})
    raised = platform.call('PATCH', '/train_jobs/raise/1', dev, json={'budget': {'MODEL_TRIAL_COUNT': 4}})
    assert raised['budget']['MODEL_TRIAL_COUNT'] == 4
    job = platform.wait_job(dev, 'raise')
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 4, job
    platform.call('PATCH', '/train_jobs/raise/1', dev, expect=409, json={'budget': {'MODEL_TRIAL_COUNT': 5}})
    platform.call('PATCH', '/train_jobs/raise/1', dev, expect=400, json={'budget': {'WORKERS_PER_MODEL': 2}})

    # Lowered below what was started: the job ends like a stop, not an error.
    job = platform.create_job(dev, 'lower', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 8, 'TIME_HOURS': 0.1})
    platform.wait_for(lambda: len(platform.trials(dev, 'lower')) >= 2, what='two trials')
    platform.call('PATCH', '/train_jobs/lower/1', dev, json={'budget': {'MODEL_TRIAL_COUNT': 1}})
    ended = platform.wait_job(dev, 'lower', timeout=30)
    assert ended['status'] == 'STOPPED' and ended['error'] is None, ended
    assert ended_causes(platform, dev, job['id']) == ['BUDGET_LOWERED']
    assert len(platform.trials(dev, 'lower')) < 8

    # The time budget: raised, the deadline moves; lowered into the past, the job ends at once.
    job = platform.create_job(dev, 'time', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 8, 'TIME_HOURS': 0.1})
    later = platform.call('PATCH', '/train_jobs/time/1', dev, json={'budget': {'TIME_HOURS': 0.5}})
    assert later['deadline_at'] > job['deadline_at'] and later['budget']['TIME_HOURS'] == 0.5
    # Once the job is older than 3 s (the shortest time budget), that budget puts its deadline in the past.
    created = datetime.fromisoformat(job['created_at'])
    platform.wait_for(lambda: platform.trials(dev, 'time') and datetime.now(timezone.utc) - created > timedelta(seconds=4),
                      what='a trial, 4 s after creation')
    platform.call('PATCH', '/train_jobs/time/1', dev, json={'budget': {'TIME_HOURS': 3 / 3600}})
    ended = platform.wait_job(dev, 'time', timeout=30)
    assert ended['status'] == 'STOPPED' and ended['error'] is None, ended
    assert ended_causes(platform, dev, job['id']) == ['BUDGET_LOWERED'], platform.worker_logs()


def test_a_live_trial_budget_change_plans_the_phases_again(platform, setup):
    """A budget of 4 plans 3 search trials and 1 final one. Raised to 8 while that final trial
    runs, the advisor plans again from the new budget, the 4 trials done counted: the search
    goes on (5 and 6) and the new final phase is the last two trials (7 and 8)."""
    dev, train_id, val_id, template = setup
    eight = template(SPLIT_EIGHT, 'Eight')
    platform.create_job(dev, 'replan', train_id, val_id, [eight],
                        {'MODEL_TRIAL_COUNT': 4, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.1}, advisor='TPE', seed=0)

    def final_trial_running():
        return [t for t in platform.trials(dev, 'replan') if t['phase'] == 'FINAL_TRAIN' and t['status'] == 'RUNNING']
    final = platform.wait_for(final_trial_running, what='the final trial of a budget of 4 running')
    assert final[0]['no'] == 4, final
    platform.call('PATCH', '/train_jobs/replan/1', dev, json={'budget': {'MODEL_TRIAL_COUNT': 8}})
    job = platform.wait_job(dev, 'replan')
    trials = sorted(platform.trials(dev, 'replan'), key=lambda t: t['no'])
    assert job['status'] == 'STOPPED' and job['trials_completed'] == 8, (job, trials)
    assert [t['phase'] for t in trials] == ['SEARCH'] * 3 + ['FINAL_TRAIN'] + ['SEARCH'] * 2 + ['FINAL_TRAIN'] * 2
    assert [t['knobs']['early'] for t in trials] == [t['phase'] == 'SEARCH' for t in trials]


class PausedDeployer(Deployer):
    """The real deployer, paused in the middle of a clean-up: before it removes a service it says
    so (``removing``) and waits for ``go``."""

    def __init__(self, *args):
        super().__init__(*args)
        self.removing, self.go = threading.Event(), threading.Event()

    def remove(self, service):
        self.removing.set()
        assert self.go.wait(60), 'the test never let the clean-up go on'
        return super().remove(service)


def test_a_resume_racing_the_clean_up_of_its_ended_job_keeps_its_redis_user(platform, setup):
    """The reconciler is paused in the middle of cleaning up an ended job (removing its services)
    while the job is resumed. The clean-up then checks the job again under its row lock before it
    removes the job's queues and Redis user: the resumed run keeps the user it has just made."""
    dev, train_id, val_id, template = setup
    platform.ctx.reconciler.stop()          # this test's reconciler does the clean-up, at its pace
    eight = template(EIGHT_KNOB_SETS, 'Eight')
    job = platform.create_job(dev, 'race', train_id, val_id, [eight], {'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.1})
    assert platform.wait_job(dev, 'race')['status'] == 'STOPPED'
    assert platform.live_services(job['id']), 'the ended job keeps its services until a clean-up'
    deployer = PausedDeployer(platform.meta_store, platform.settings, platform.manager, platform.ctx.redis)
    reconciler = Reconciler(platform.meta_store, platform.settings, platform.manager, platform.ctx.redis, deployer)
    clean_up = threading.Thread(target=reconciler.clean_up_train_job, args=(job['id'],))
    clean_up.start()
    try:
        assert deployer.removing.wait(30), 'the clean-up did not start removing services'
        resumed = platform.call('POST', '/train_jobs/race/1/resume', dev,
                                json={'budget': {'MODEL_TRIAL_COUNT': 1, 'TIME_HOURS': 0.1}})
        assert clean_up.is_alive() and resumed['status'] in ('STARTED', 'RUNNING'), resumed
    finally:
        deployer.go.set()
        clean_up.join(30)
    assert not clean_up.is_alive()
    username = job_redis_credentials(platform.settings, 'TRAIN', job['id'])[0]
    assert platform.ctx.redis.execute_command('ACL', 'GETUSER', username) is not None, 'the job lost its Redis user'
    # With its user, the resumed run's workers log in and run its trial.
    second = platform.wait_job(dev, 'race')
    assert second['status'] == 'STOPPED' and second['trials_completed'] == 2, second
