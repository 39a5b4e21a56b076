"""Multi-node benchmark (not a test): prints a table and saves JSON under bench-results/.

    python scripts/bench_nodes.py [--trials N] [--queries N]

On a swarm of three Docker-in-Docker nodes on this machine (test/support/dind_swarm.py: a manager
running the stack, two worker nodes joined with scripts/add_node.sh and join_node.sh, the shared
storage at the same path on each, the worker image from the stack's registry) it measures, in the
same run, where a worker runs against what it costs:

- per-trial overhead: the wall time per trial of a template whose trial is instant (RANDOM
  advisor, one train worker): everything but the model's own work (proposals, leases, results,
  PostgreSQL, the parameter store on the shared storage);
- prediction latency: median and 95th percentile of sequential queries to the predictor (on the
  manager, reached from this machine) whose one inference worker answers;
- with the worker on the manager (the single-node swarm: the worker nodes drained, so everything
  runs beside Redis and PostgreSQL) and on a worker node (the stack restarted by start.sh with
  SINGA_AVOID_MANAGER_FOR_WORKERS=true: every message crosses the overlay network between nodes);
- the time from create_train_job to the first trial running on a worker node, with the worker
  image on the node (pulled when it joined) and without it (pulled from the registry then).

The images must be built: scripts/build_images.sh and scripts/build_images.sh --only node.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / 'scripts'), str(REPO / 'test' / 'support')]

from bench_train import INSTANT  # noqa: E402
from dind_swarm import DindSwarm  # noqa: E402
from singa.client import Client  # noqa: E402

WORKERS = ('node1', 'node2')


def version() -> str:
    return subprocess.run([sys.executable, str(REPO / 'scripts' / 'build_support.py'), 'version'],
                          capture_output=True, text=True, check=True).stdout.strip()


class Run:
    def __init__(self, cluster: DindSwarm, root: Path):
        self.cluster = cluster
        wine = root / 'wine'
        subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', str(wine), 'wine'], cwd=REPO,
                       check=True, capture_output=True)
        self.client = cluster.client()
        self.train_id = self.client.create_dataset('train', 'TABULAR_CLASSIFICATION', str(wine / 'wine_train.csv'))['id']
        self.val_id = self.client.create_dataset('val', 'TABULAR_CLASSIFICATION', str(wine / 'wine_val.csv'))['id']
        template = root / 'instant.py'
        template.write_text(INSTANT)
        self.model_id = self.client.create_model('instant', 'TABULAR_CLASSIFICATION', str(template), 'Instant')['id']
        header, row = [line.split(',') for line in (wine / 'wine_test.csv').read_text().splitlines()[:2]]
        self.query = {name: float(value) for name, value in zip(header, row) if name != 'target'}

    def create(self, app: str, trials: int) -> tuple:
        started = time.monotonic()
        job = self.client.create_train_job(app, 'TABULAR_CLASSIFICATION', self.train_id, self.val_id,
                                           budget={'MODEL_TRIAL_COUNT': trials, 'TIME_HOURS': 0.2},
                                           models=[self.model_id], advisor='RANDOM')
        return job, started

    def wait_stopped(self, app: str, job_id: str) -> tuple:
        """The stopped job, and the nodes its train workers ran on (seen while they ran)."""
        nodes = set()
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            for service in self.cluster.services(f'singa.job_id={job_id}', 'singa.service_type=TRAIN'):
                nodes |= {t['node'] for t in self.cluster.tasks(service) if t['node']}
            job = self.client.get_train_job(app)
            if job['status'] in ('STOPPED', 'ERRORED'):
                return job, sorted(nodes)
            time.sleep(0.5)
        raise AssertionError(f'{app} did not stop within 900 s')

    def trial_overhead(self, app: str, trials: int) -> dict:
        job, _ = self.create(app, trials)
        job, nodes = self.wait_stopped(app, job['id'])
        assert job['trials_completed'] == trials, job
        done = self.client.get_trials_of_train_job(app)
        starts = sorted(_time(t['started_at']) for t in done)
        stops = sorted(_time(t['stopped_at']) for t in done)
        # From the first trial's start to the last one's end: the worker's start-up is left out.
        return {'trials': trials, 'seconds_per_trial': (stops[-1] - starts[0]) / trials, 'worker_nodes': nodes}

    def prediction_latency(self, app: str, queries: int) -> dict:
        self.client.create_inference_job(app, replicas=1)
        served = self.client.wait_until_inference_job_is_running(app, timeout=300)
        worker = self.cluster.services(f'singa.job_id={served["id"]}', 'singa.service_type=INFERENCE')[0]
        nodes = self.cluster.node_of_running(worker)
        key = self.client.create_prediction_key(app, name='bench')['key']
        client = Client(admin_host=self.cluster.manager.ip, admin_port=3000)
        for _ in range(20):               # warm up
            client.predict(app, [self.query], prediction_key=key, predictor_url=served['predictor_url'])
        latencies = []
        for _ in range(queries):
            started = time.perf_counter()
            client.predict(app, [self.query], prediction_key=key, predictor_url=served['predictor_url'])
            latencies.append(time.perf_counter() - started)
        self.client.stop_inference_job(app)
        latencies.sort()
        return {'queries': queries, 'median_ms': 1000 * statistics.median(latencies),
                'p95_ms': 1000 * latencies[int(0.95 * len(latencies)) - 1], 'worker_nodes': nodes}

    def first_trial_on_a_worker_node(self, app: str) -> dict:
        job, started = self.create(app, 2)
        deadline = started + 600
        while time.monotonic() < deadline:
            if any(t['status'] in ('RUNNING', 'COMPLETED') for t in self.client.get_trials_of_train_job(app)):
                seconds = time.monotonic() - started
                _, nodes = self.wait_stopped(app, job['id'])
                return {'seconds': seconds, 'worker_nodes': nodes}
            time.sleep(0.05)
        raise AssertionError(f'no trial of {app} ran within 600 s')


def _time(iso: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(iso).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trials', type=int, default=40, help='trials of the instant template per placement')
    parser.add_argument('--queries', type=int, default=300, help='sequential queries per placement')
    args = parser.parse_args()
    results = {'trials': args.trials, 'queries': args.queries, 'cpus': os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix='bench-nodes-') as tmp:
        cluster = DindSwarm(version(), Path(tmp), {name: 0 for name in WORKERS},
                            settings={'reconcile_interval': 1, 'stop_grace_seconds': 5}, say=print)
        try:
            cluster.up()
            results['setup_seconds'] = cluster.timings
            run = Run(cluster, Path(tmp))
            # One node: the worker nodes drained, so every worker runs on the manager.
            for name in WORKERS:
                cluster.swarm('node', 'update', '--availability', 'drain', name)
            results['one_node'] = {'trial': run.trial_overhead('one-trials', args.trials),
                                   'predict': run.prediction_latency('one-trials', args.queries)}
            # Across nodes: the workers only on worker nodes (start.sh replaces the admin).
            for name in WORKERS:
                cluster.swarm('node', 'update', '--availability', 'active', name)
            cluster.settings['avoid_manager_for_workers'] = 'true'
            cluster.script(cluster.manager, 'start.sh', env=cluster.stack_env(), timeout=600)
            results['across_nodes'] = {'trial': run.trial_overhead('across-trials', args.trials),
                                       'predict': run.prediction_latency('across-trials', args.queries)}
            results['first_trial_image_present'] = run.first_trial_on_a_worker_node('first-warm')
            for node in cluster.workers:
                cluster.sh(node, 'sh', '-c', 'docker image prune --all --force >/dev/null')
            results['first_trial_image_pulled'] = run.first_trial_on_a_worker_node('first-cold')
        finally:
            cluster.down()
    report(results)
    return 0


def report(results: dict) -> None:
    one, across = results['one_node'], results['across_nodes']
    rows = [('per-trial overhead (s)', one['trial']['seconds_per_trial'], across['trial']['seconds_per_trial']),
            ('prediction latency, median (ms)', one['predict']['median_ms'], across['predict']['median_ms']),
            ('prediction latency, p95 (ms)', one['predict']['p95_ms'], across['predict']['p95_ms'])]
    print(f'\n{"":34} {"one node":>10} {"across":>10} {"ratio":>7}')
    for name, a, b in rows:
        print(f'{name:34} {a:10.3f} {b:10.3f} {b / a:6.2f}x')
    print(f'{"":34} workers on {one["trial"]["worker_nodes"]} / {across["trial"]["worker_nodes"]}')
    for key, label in (('first_trial_image_present', 'image on the node'),
                       ('first_trial_image_pulled', 'image pulled from the registry')):
        print(f'create_train_job to the first running trial on a worker node, {label}: '
              f'{results[key]["seconds"]:.1f} s (on {results[key]["worker_nodes"]})')
    print(f'setting up the swarm: {results["setup_seconds"]}')
    out_dir = REPO / 'bench-results'
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f'nodes-{time.strftime("%Y%m%d-%H%M%S")}.json'
    out.write_text(json.dumps(results, indent=2))
    print(f'saved {out}')


if __name__ == '__main__':
    sys.exit(main())
