"""Which trial is best (``singa.ranking``), seen from outside. The advisor's best is the API's: the
final phase retrains the knobs of the trial ``type=best`` ranks first, with the job's constraints,
with ties, and with a lost trial's retry numbered after a later trial; the final phase counts the
trials spent, not trial numbers. And a template whose score is not a share of examples says so,
and its jobs tie only within floating-point noise."""
import os
import signal

from singa.admin.services.deployer import container_service_of
from singa.meta_store.records import ServiceRecord, from_row
from singa.ranking import DEFAULT_TIE_TOLERANCE, rank_rule

# Templates of one file, by class. Tied: every trial scores the same (all tie) and takes SECONDS to
# train. Costly: the more x, the better the score and the higher the cost, which a job bounds. F1:
# scores what an F1 would be, not a share of examples, and says so.
TEMPLATES = """
import time
from singa.model import BaseModel, FloatKnob, PolicyKnob

class Tied(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"x": FloatKnob(0.0, 1.0), "quick": PolicyKnob("EARLY_STOP")}

    def train(self, dataset_path, shared_params=None, **kwargs):
        time.sleep(SECONDS)

    def evaluate(self, dataset_path):
        return 0.5

    def predict(self, queries):
        return [[0.5, 0.5] for _ in queries]

    def dump_parameters(self):
        return {"x": self.knobs["x"]}

    def load_parameters(self, params):
        pass

class Costly(Tied):
    def evaluate(self, dataset_path):
        return {"score": self.knobs["x"], "cost": self.knobs["x"]}

class F1(Tied):
    score_counts_examples = False

    def evaluate(self, dataset_path):
        return round(self.knobs["x"], 2)
"""


def _best(platform, dev, app) -> dict:
    return platform.call('GET', f'/train_jobs/{app}/1/trials', dev, query_string={'type': 'best', 'max_count': 1})[0]


def _kill_the_worker_of(platform, job_id: str, trial: dict) -> None:
    """SIGKILL the train worker process running ``trial`` (its worker id is ``<service>/<task>``)."""
    service_id, task = trial['worker_id'].split('/', 1)
    row = next(s for s in platform.live_services(job_id) if str(s['id']) == service_id)
    states = platform.manager.replica_states(container_service_of(from_row(ServiceRecord, row)))
    pid = next(s['process']['pid'] for s in states if s['task'] == task and s['process'])
    os.kill(pid, signal.SIGKILL)


def test_a_retry_numbered_after_a_tied_trial_neither_wins_the_tie_nor_moves_the_final_phase(platform, setup):
    dev, train_id, val_id, template = setup
    tied = template(TEMPLATES, 'Tied', seconds=5.0)
    job = platform.create_job(dev, 'tied', train_id, val_id, [tied],
                              {'MODEL_TRIAL_COUNT': 4, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.1},
                              max_trial_retries=1)

    def both_running():
        running = {t['no']: t for t in platform.trials(dev, 'tied') if t['status'] == 'RUNNING'}
        return running if {1, 2} <= set(running) else None
    running = platform.wait_for(both_running, what='trials 1 and 2 running')
    _kill_the_worker_of(platform, job['id'], running[1])
    job = platform.wait_job(dev, 'tied', timeout=120)
    assert job['status'] == 'STOPPED', job
    trials = sorted(platform.trials(dev, 'tied'), key=lambda t: t['no'])
    lost = trials[0]
    assert lost['status'] == 'ERRORED' and 'lost' in lost['error']
    retry = next(t for t in trials if t['retry_of'] == lost['id'])
    assert retry['status'] == 'COMPLETED' and retry['no'] > 2 and retry['knobs']['x'] == lost['knobs']['x']
    assert all(t['status'] == 'COMPLETED' for t in trials[1:])
    # All tie: the API's best is the lowest trial number, 2 (the retry of trial 1 is numbered after it),
    # and the final phase retrained the same trial's knobs, in full.
    best = _best(platform, dev, 'tied')
    assert best['no'] == 2 and best['tied_with_best'] and best['knobs']['quick'] is True
    finals = [t for t in trials if t['phase'] == 'FINAL_TRAIN']
    assert finals and finals[0]['knobs'] == dict(best['knobs'], quick=False)
    # Four trials of the budget were spent (the retry is trial 1 again): three searched, the last final.
    spent = [t for t in trials if t['retry_of'] is None]
    assert [t['phase'] for t in spent] == ['SEARCH'] * 3 + ['FINAL_TRAIN'], [(t['no'], t['phase']) for t in trials]
    assert retry['phase'] == 'SEARCH'


def test_the_final_phase_retrains_the_best_trial_that_meets_the_constraints(platform, setup):
    dev, train_id, val_id, template = setup
    costly = template(TEMPLATES, 'Costly', seconds=0.0)
    platform.create_job(dev, 'costly', train_id, val_id, [costly], {'MODEL_TRIAL_COUNT': 8, 'TIME_HOURS': 0.1},
                        seed=3, constraints=[{'name': 'cost', 'max': 0.5}])
    job = platform.wait_job(dev, 'costly', timeout=120)
    assert job['status'] == 'STOPPED', job
    trials = sorted(platform.trials(dev, 'costly'), key=lambda t: t['no'])
    assert [t['phase'] for t in trials] == ['SEARCH'] * 6 + ['FINAL_TRAIN'] * 2
    searched = trials[:6]
    feasible = [t for t in searched if t['metrics']['cost'] <= 0.5]
    assert feasible and max(t['score'] for t in searched) > max(t['score'] for t in feasible), \
        'the seed must give a trial over the bound that scores above every trial within it'
    best = _best(platform, dev, 'costly')
    assert best['metrics']['cost'] <= 0.5 and best['phase'] == 'SEARCH'
    assert best['score'] == max(t['score'] for t in feasible)
    assert trials[6]['knobs'] == dict(best['knobs'], quick=False)      # the advisor's best: the same trial


def test_a_template_whose_score_is_not_a_share_of_examples_gets_no_tolerance_of_one_example(platform, setup):
    dev, train_id, val_id, template = setup
    f1 = template(TEMPLATES, 'F1', seconds=0.0)
    tied = template(TEMPLATES, 'Tied', seconds=0.0)
    assert platform.call('GET', f'/models/{f1}', dev)['score_counts_examples'] is False     # read at upload
    assert platform.call('GET', f'/models/{tied}', dev)['score_counts_examples'] is True    # the default
    # A job of both: one template's score is not a share of examples, so none of the job's is taken as one.
    platform.create_job(dev, 'f1', train_id, val_id, [f1, tied], {'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.1})
    job = platform.wait_job(dev, 'f1', timeout=120)
    assert job['status'] == 'STOPPED', job
    best = _best(platform, dev, 'f1')
    assert best['rank_rule'] == rank_rule(DEFAULT_TIE_TOLERANCE) and 'within 1e-09 of the best score' in best['rank_rule']
