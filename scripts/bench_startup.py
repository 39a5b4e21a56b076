"""How long jobs take to start, Docker Swarm against the process manager, measured in one run on
one machine (not a test): prints a table and saves JSON under bench-results/.

    python scripts/bench_startup.py [--runs N] [--reconcile-interval SECONDS]

For each platform (`singa up`, the embedded stack with worker processes; `scripts/start.sh`, the
Swarm stack with workers as Swarm services, images as scripts/build_images.sh left them), the same
client steps N times: a train job of one template (logistic regression on wine, 2 trials), timed
from `create_train_job` returning to its first trial RUNNING (advisor and train worker started,
template and dataset loaded, knobs proposed); then an inference job of its best trial, timed from
`create_inference_job` returning to the job RUNNING (predictor answering, worker serving; the
admin's reconciler notices this, so its interval, SINGA_RECONCILE_INTERVAL, is part of the time).
Both platforms are started in temporary places and removed at the end.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from singa.client import Client  # noqa: E402
from singa.local.servers import free_port  # noqa: E402

POLL = 0.05


def _printed(out: str) -> dict:
    return {k.strip(): v.strip() for k, v in (line.split(':', 1) for line in out.splitlines()
                                              if line.startswith('  ') and ':' in line)}


def _environment(reconcile_interval) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith('SINGA_')}
    if reconcile_interval is not None:
        env['SINGA_RECONCILE_INTERVAL'] = str(reconcile_interval)
    return env


class ProcessPlatform:
    name = 'process'

    def __init__(self, root: str, reconcile_interval=None):
        self.port = free_port()
        self.env = _environment(reconcile_interval)
        self.env.update(SINGA_DATA_DIR=os.path.join(root, 'singa'), SINGA_ADMIN_PORT=str(self.port))

    def _cli(self, *args) -> str:
        result = subprocess.run([sys.executable, '-m', 'singa.cli', *args], env=self.env, capture_output=True,
                                text=True, timeout=300, check=True)
        return result.stdout

    def start(self) -> str:
        return _printed(self._cli('up'))['password']

    def stop(self) -> None:
        self._cli('down', '--purge')


class SwarmPlatform:
    name = 'swarm'

    def __init__(self, root: str, reconcile_interval=None):
        self.port = free_port()
        self.env = _environment(reconcile_interval)
        self.env.update(SINGA_STACK_NAME=f'singa-bench-{uuid.uuid4().hex[:6]}', SINGA_ADMIN_PORT=str(self.port),
                        SINGA_SWARM_HOME=os.path.join(root, 'swarm'), SINGA_PREDICTOR_PORT_MIN='32400',
                        SINGA_PREDICTOR_PORT_MAX='32499')

    def _script(self, name, *args) -> str:
        return subprocess.run([os.path.join(REPO, 'scripts', name), *args], env=self.env, capture_output=True,
                              text=True, timeout=600, check=True).stdout

    def start(self) -> str:
        return _printed(self._script('start.sh'))['password']

    def stop(self) -> None:
        self._script('stop.sh', '--purge')


def _until(condition, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError('gave up waiting')
        time.sleep(POLL)


def measure(platform, runs: int, data_dir: str) -> dict:
    password = platform.start()
    try:
        client = Client(admin_host='127.0.0.1', admin_port=platform.port)
        client.login('superadmin@singaauto', password)
        train = client.create_dataset('wine-train', 'TABULAR_CLASSIFICATION', os.path.join(data_dir, 'wine_train.csv'))
        val = client.create_dataset('wine-val', 'TABULAR_CLASSIFICATION', os.path.join(data_dir, 'wine_val.csv'))
        model = client.create_model('logreg', 'TABULAR_CLASSIFICATION',
                                    os.path.join(REPO, 'examples', 'models', 'sk_logistic_regression.py'),
                                    'SkLogisticRegression')
        first_trial, predictor_ready = [], []
        for run in range(runs):
            app = f'bench{run}'
            client.create_train_job(app, 'TABULAR_CLASSIFICATION', train['id'], val['id'], models=[model['id']],
                                    budget={'MODEL_TRIAL_COUNT': 2, 'TIME_HOURS': 0.1})
            started = time.monotonic()
            _until(lambda: any(t['status'] in ('RUNNING', 'COMPLETED') for t in client.get_trials_of_train_job(app)))
            first_trial.append(time.monotonic() - started)
            client.wait_until_train_job_has_stopped(app, timeout=300, interval=0.2, progress=False)
            client.create_inference_job(app)
            started = time.monotonic()
            _until(lambda: client.get_running_inference_job(app)['status'] == 'RUNNING')
            predictor_ready.append(time.monotonic() - started)
            client.stop_inference_job(app)
        return {'first_trial_running_s': first_trial, 'inference_running_s': predictor_ready}
    finally:
        platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--reconcile-interval', type=float, default=None,
                        help='SINGA_RECONCILE_INTERVAL for both admins (default: theirs, 5 s)')
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix='singa-bench-') as root:
        subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', root, 'wine'], cwd=REPO,
                       check=True, capture_output=True)
        for platform in (ProcessPlatform(root, args.reconcile_interval), SwarmPlatform(root, args.reconcile_interval)):
            results[platform.name] = measure(platform, args.runs, root)
    print(f'{"":<10} {"create train job -> first trial RUNNING":>42} {"create inference job -> RUNNING":>34}')
    for name, r in results.items():
        cells = [f'{statistics.median(v):.2f} s (runs: {", ".join(f"{x:.2f}" for x in v)})'
                 for v in (r['first_trial_running_s'], r['inference_running_s'])]
        print(f'{name:<10} {cells[0]:>42} {cells[1]:>34}')
    os.makedirs(os.path.join(REPO, 'bench-results'), exist_ok=True)
    with open(os.path.join(REPO, 'bench-results', 'startup.json'), 'w') as f:
        json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
