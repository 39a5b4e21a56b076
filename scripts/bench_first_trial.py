"""Where the time to a train job's first trial goes (not a test): prints a table and saves JSON
under bench-results/ (``bench_train.save_results``).

    python scripts/bench_first_trial.py [--runs N] [--templates N] [--cap N] [--label TEXT]

Each run creates a train job of ``--templates`` templates (6), one worker each, one trial each,
``MAX_CONCURRENT_TRIALS`` ``--cap`` (2: as ``bench_automl`` runs), on the embedded stack of
``bench_train.Bench`` (the real admin in process, the process container manager starting real
worker processes, PostgreSQL and Redis embedded) and reads the moments it passed from where they
are recorded: the job's ``created_at``, its services' ``started_at`` (the advisor's when it has
loaded the sub-job, the train worker's when its advisor answered its first request), the trial's
``started_at`` (the advisor recorded the proposal) and the template's own clock (``imported``: the
sandboxed child imported the template; ``began``: ``train()`` was called, reported as metrics).
The load average is saved with the results: on a busy host every phase is slower.
"""
import argparse
import os
import statistics
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train import Bench, save_results  # noqa: E402

CLOCKED = textwrap.dedent('''
    import time
    IMPORTED = time.time()

    from singa.model import BaseModel, FloatKnob

    class Clocked(BaseModel):
        @staticmethod
        def get_knob_config():
            return {"x": FloatKnob(0.0, 1.0)}

        def train(self, dataset_path, shared_params=None, **kwargs):
            self.began = time.time()

        def evaluate(self, dataset_path):
            return {"score": self.knobs["x"], "imported": IMPORTED, "began": self.began}

        def predict(self, queries):
            return [0.0 for _ in queries]

        def dump_parameters(self):
            return {}

        def load_parameters(self, params):
            pass
''')

# The moments of a run, in order, each as seconds after the request to create the job was sent:
# for the first template to pass it and for the last.
PHASES = ('advisor_running', 'worker_running', 'template_imported', 'trial_started', 'train_began')


def _wait_finished(bench: Bench, app: str) -> dict:
    from singa.constants import TrainJobStatus
    while True:
        job = bench._call('GET', f'/train_jobs/{app}/-1')
        if job['status'] in TrainJobStatus.FINISHED:
            return job
        time.sleep(0.05)


def one_run(bench: Bench, model_ids: list, app: str, cap: int) -> dict:
    from singa.meta_store import services, train_jobs, trials
    train_id, val_id = bench.dataset('iris')
    budget = {'MODEL_TRIAL_COUNT': 1, **({'MAX_CONCURRENT_TRIALS': cap} if cap else {})}
    sent = time.time()
    bench._call('POST', '/train_jobs', json={'app': app, 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id,
                                             'val_dataset_id': val_id, 'model_ids': model_ids, 'advisor': 'RANDOM',
                                             'budget': budget})
    response = time.time()
    job = _wait_finished(bench, app)
    moments = {name: [] for name in PHASES}
    with bench.store.transaction() as cur:
        record = train_jobs.get_train_job(cur, job['id'])
        for sub in train_jobs.list_sub_train_jobs(cur, record.id):
            (advisor,) = services.list_services(cur, job_id=record.id, service_type='ADVISOR', sub_job_id=sub.id)
            (worker,) = services.list_services(cur, job_id=record.id, service_type='TRAIN', sub_job_id=sub.id)
            (trial,) = trials.list_trials_of_sub_job(cur, sub.id)
            for name, at in (('advisor_running', advisor.started_at.timestamp()),
                             ('worker_running', worker.started_at.timestamp()),
                             ('template_imported', trial.metrics['imported']),
                             ('trial_started', trial.started_at.timestamp()), ('train_began', trial.metrics['began'])):
                moments[name].append(at - sent)
    out = {'job_created': record.created_at.timestamp() - sent, 'response': response - sent}
    for name, values in moments.items():
        out[f'first_{name}'], out[f'last_{name}'] = min(values), max(values)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=4, help='runs of each deploy concurrency')
    parser.add_argument('--templates', type=int, default=6, help='templates in the job, one worker each')
    parser.add_argument('--cap', type=int, default=2, help='MAX_CONCURRENT_TRIALS (0: none)')
    parser.add_argument('--deploy-concurrency', default='1,8',
                        help="the process manager's CREATE_CONCURRENCY values to compare, in turns (1: one "
                             "service after another, as before)")
    parser.add_argument('--label', default='')
    args = parser.parse_args()
    from singa.container.local_process import ProcessContainerManager
    concurrencies = [int(c) for c in args.deploy_concurrency.split(',')]
    runs = []
    with tempfile.TemporaryDirectory(prefix='singa-bench-') as root:
        bench = Bench(root)
        try:
            model_ids = [bench.model(CLOCKED.replace('Clocked', f'Clocked{n}'), f'Clocked{n}')
                         for n in range(args.templates)]
            one_run(bench, model_ids, 'warmup', args.cap)      # the page cache, the first connections
            for n in range(args.runs):
                for concurrency in concurrencies:     # in turns, so that the load weighs on each alike
                    ProcessContainerManager.CREATE_CONCURRENCY = concurrency
                    load = os.getloadavg()[0]
                    runs.append({'deploy_concurrency': concurrency, 'load_1min': load,
                                 **one_run(bench, model_ids, f'first-{n}-{concurrency}', args.cap)})
        finally:
            bench.close()
    print(f'\nSeconds from the request to create a train job ({args.templates} templates, one worker each, '
          f'cap {args.cap or "none"}) to each moment; median (min to max) of {args.runs} runs')
    names = [name for name in runs[0] if name not in ('deploy_concurrency', 'load_1min')]
    print(f'{"deploy concurrency":26}' + ''.join(f'{c:>22}' for c in concurrencies))
    summary = {}
    for concurrency in concurrencies:
        mine = [r for r in runs if r['deploy_concurrency'] == concurrency]
        summary[concurrency] = {name: {'median': statistics.median(r[name] for r in mine),
                                       'min': min(r[name] for r in mine), 'max': max(r[name] for r in mine)}
                                for name in names}
    for name in names:
        print(f'{name:26}' + ''.join(f'{summary[c][name]["median"]:8.2f} ({summary[c][name]["min"]:.2f}-'
                                     f'{summary[c][name]["max"]:.2f})' for c in concurrencies))
    loads = [r['load_1min'] for r in runs]
    print(f'load average (1 min) during the runs: {min(loads):.1f} to {max(loads):.1f}')
    save_results('first_trial', {'label': args.label, 'templates': args.templates, 'cap': args.cap, 'runs': runs,
                                 'summary': summary})


if __name__ == '__main__':
    main()
