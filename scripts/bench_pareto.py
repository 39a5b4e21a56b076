"""Multi-objective benchmark (not a test): "the most accurate model answering in under X ms",
asked of the platform and measured. Prints tables and saves JSON under bench-results/.

    python scripts/bench_pareto.py [--trials 8] [--max-latency-ms X] [--templates NAME ...]

One train job on digits tunes several example templates at once for two objectives, the score
(their validation accuracy, maximized) and ``predict_latency_ms`` (minimized: the median time the trained model took to
answer one validation query, as the train worker measured it). The bench prints the Pareto front
the API answers (template, knobs, validation accuracy, latency, parameters' size), then deploys
with ``select``: the most accurate trial whose ``predict_latency_ms`` is at most X (given, else
halfway between the front's fastest and its most accurate trial), queries the predictor over HTTP
with the test split one query at a time, and prints the deployed trial's accuracy on test and the
p50/p95 latency at the predictor next to what the trial recorded at training.

Runs on the in-process platform of scripts/bench_train.py (embedded PostgreSQL and Redis, the real
admin, real worker processes).
"""
import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench_train import Bench, save_results  # noqa: E402
from singa.constants import InferenceJobStatus, TrainJobStatus  # noqa: E402

TEMPLATES = {
    'sk_logistic_regression': 'SkLogisticRegression',
    'sk_random_forest': 'SkRandomForestClf',
    'sk_svc': 'SkSvc',
    'torch_mlp': 'TorchMlpClf',
}
# The example templates' evaluate() returns one number, their accuracy: the trial's score.
OBJECTIVES = [{'name': 'score', 'direction': 'maximize'}, {'name': 'predict_latency_ms', 'direction': 'minimize'}]
APP = 'pareto'


def tune(bench: Bench, templates: list, trials: int, seed: int) -> dict:
    ids = [bench.model(os.path.join(REPO, 'examples', 'models', f'{name}.py'), TEMPLATES[name]) for name in templates]
    train_id, val_id = bench.dataset('digits')
    bench._call('POST', '/train_jobs', json={
        'app': APP, 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id, 'val_dataset_id': val_id,
        'model_ids': ids, 'budget': {'MODEL_TRIAL_COUNT': trials, 'TIME_HOURS': 1}, 'seed': seed,
        'objectives': OBJECTIVES})
    while True:
        job = bench._call('GET', f'/train_jobs/{APP}/-1')
        if job['status'] in TrainJobStatus.FINISHED:
            return job
        time.sleep(0.5)


def deploy(bench: Bench, rule: dict) -> tuple:
    job = bench._call('POST', '/inference_jobs', json={'app': APP, 'select': rule})
    while job['status'] != InferenceJobStatus.RUNNING:
        if job['status'] in InferenceJobStatus.FINISHED:
            raise RuntimeError(f'the inference job ended: {job}')
        time.sleep(0.2)
        job = bench._call('GET', f'/inference_jobs/{APP}/-1')
    key = bench._call('POST', f'/inference_jobs/{APP}/-1/keys', json={'name': 'bench'})['key']
    return job, key


def query_test_split(bench: Bench, url: str, key: str, warm_up: int = 20) -> dict:
    """Every test row as a single query, one after another: accuracy and latency at the client."""
    import requests
    with open(os.path.join(bench.root, 'datasets', 'digits_test.csv')) as f:
        rows = list(csv.DictReader(f))
    session = requests.Session()
    session.headers['Authorization'] = f'Bearer {key}'

    def ask(row: dict):
        query = {k: float(v) for k, v in row.items() if k != 'target'}
        started = time.perf_counter()
        response = session.post(url + '/predict', json={'query': query}, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        probabilities = response.json()['prediction']
        return max(range(len(probabilities)), key=probabilities.__getitem__), elapsed

    for row in rows[:warm_up]:
        ask(row)
    right, latencies = 0, []
    for row in rows:
        label, elapsed = ask(row)
        right += label == int(float(row['target']))
        latencies.append(elapsed)
    cuts = statistics.quantiles(latencies, n=100)
    return {'queries': len(rows), 'test_accuracy': right / len(rows), 'p50_ms': statistics.median(latencies),
            'p95_ms': cuts[94], 'mean_ms': statistics.fmean(latencies)}


def knobs_summary(knobs: dict) -> str:
    def short(v):
        return f'{v:.3g}' if isinstance(v, float) else str(v)
    return ' '.join(f'{k}={short(v)}' for k, v in sorted(knobs.items()) if v is not None)


def searched_knobs(trial: dict, done: list) -> dict:
    """The knobs of ``trial`` that took more than one value over its template's trials."""
    own = [t['knobs'] for t in done if t['model_name'] == trial['model_name']]
    return {k: v for k, v in trial['knobs'].items() if len({json.dumps(o.get(k)) for o in own}) > 1}


def run(bench: Bench, templates: list, trials: int, seed: int, bound) -> dict:
    load_before = os.getloadavg()
    started = time.monotonic()
    job = tune(bench, templates, trials, seed)
    tuned_s = time.monotonic() - started
    done = [t for t in bench.trials(APP) if t['status'] == 'COMPLETED']
    front = bench._call('GET', f'/train_jobs/{APP}/-1/pareto')['trials']
    front.sort(key=lambda t: t['metrics']['predict_latency_ms'])
    fastest, most_accurate = front[0], max(front, key=lambda t: t['score'])
    if bound is None:
        ends = [t['metrics']['predict_latency_ms'] for t in (fastest, most_accurate)]
        bound = round(sum(ends) / 2, 3)
    rule = {'objective': 'score', 'direction': 'maximize', 'where': [{'name': 'predict_latency_ms', 'max': bound}]}
    inference, key = deploy(bench, rule)
    try:
        chosen = next(t for t in done if t['id'] == inference['workers'][0]['trial_id'])
        served = query_test_split(bench, inference['predictor_url'], key)
    finally:
        bench._call('POST', f'/inference_jobs/{APP}/-1/stop')

    def row(t: dict) -> dict:
        return {'trial_no': t['no'], 'template': t['model_name'].removesuffix('.py'),
                'knobs': searched_knobs(t, done), 'val_accuracy': t['score'],
                'predict_latency_ms': t['metrics']['predict_latency_ms'], 'params_bytes': t['params_bytes']}
    return {'job_status': job['status'], 'templates': templates, 'trials_per_template': trials, 'seed': seed,
            'trials_completed': len(done), 'tuning_seconds': tuned_s, 'front': [row(t) for t in front],
            'rule': rule, 'deployed': row(chosen), 'served': served,
            'load_average_before': load_before, 'load_average_after': os.getloadavg(), 'cpus': os.cpu_count()}


def report(r: dict) -> None:
    print(f'\nPareto front of score (validation accuracy, max) and predict_latency_ms (min): '
          f'{r["trials_completed"]} completed trials of {len(r["templates"])} templates in {r["tuning_seconds"]:.0f} s')
    print(f'{"trial":>5} {"template":22} {"val acc":>8} {"latency ms":>10} {"size KB":>9}  knobs')
    for t in r['front']:
        print(f'{t["trial_no"]:5} {t["template"]:22} {t["val_accuracy"]:8.4f} {t["predict_latency_ms"]:10.3f} '
              f'{t["params_bytes"] / 1024:9.1f}  {knobs_summary(t["knobs"])}')
    d, s = r['deployed'], r['served']
    bound = r['rule']['where'][0]['max']
    print(f'\nDeployed with select "most accurate with predict_latency_ms <= {bound}": trial {d["trial_no"]} '
          f'({d["template"]})')
    print(f'{"":34} {"accuracy":>9} {"p50 ms":>8} {"p95 ms":>8}')
    print(f'{"recorded at training (val, model)":34} {d["val_accuracy"]:9.4f} {d["predict_latency_ms"]:8.3f} {"":>8}')
    print(f'{"measured at the predictor (test)":34} {s["test_accuracy"]:9.4f} {s["p50_ms"]:8.3f} {s["p95_ms"]:8.3f}'
          f'   ({s["queries"]} single queries over HTTP)')
    print(f'p50 at the predictor within the bound of {bound} ms: {"yes" if s["p50_ms"] <= bound else "no"} '
          '(the bound is on the model\'s own time; the predictor adds HTTP, Redis and batching)')
    print(f'load average (1, 5, 15 min) {", ".join(f"{v:.1f}" for v in r["load_average_before"])} before, '
          f'{", ".join(f"{v:.1f}" for v in r["load_average_after"])} after, on {r["cpus"]} CPUs')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--trials', type=int, default=8, help='trials per template')
    parser.add_argument('--templates', nargs='+', default=list(TEMPLATES), choices=list(TEMPLATES))
    parser.add_argument('--max-latency-ms', type=float, default=None,
                        help='the bound of the deployment rule (default: halfway along the front)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='singa-bench-pareto-') as root:
        bench = Bench(root)
        try:
            result = run(bench, args.templates, args.trials, args.seed, args.max_latency_ms)
        finally:
            bench.close()
    report(result)
    save_results('pareto', result)


if __name__ == '__main__':
    main()
