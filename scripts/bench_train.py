"""Train-job benchmarks (not a test): prints tables and saves JSON under bench-results/.

    python scripts/bench_train.py [overhead] [scaling] [quality] [--trials N] [--seeds N] [--first-seed N]
                                 [--spaces ...]

overhead  trials per second through the whole platform (advisor worker, one train worker, Redis,
          PostgreSQL, parameter store) with a template whose train and evaluate return at once and
          the RANDOM advisor, with the model code in its bubblewrap sandbox and, as baselines, in
          a plain child process (SINGA_SANDBOX=none) and with PostgreSQL not durable (fsync,
          full_page_writes and synchronous_commit off: what the embedded cluster once ran with),
          against Optuna's own way of distributing work: an ask/tell loop on Optuna's RDB storage
          in the same PostgreSQL, in the same run.
scaling   a template whose trial burns about 1 s of CPU, with 1 and 2 train workers.
quality   trials the platform (TPE, real train jobs) needs to reach the best score random search
          finds in 60 trials, against a plain Optuna TPE loop on the same space, seed by seed, on
          digits with the SVC template (a conditional space) and on breast_cancer with the random
          forest template (integer and float knobs); plain Optuna again on other seeds shows how
          much the seed alone moves the seed-by-seed comparison, and the platform's TPE advisor
          in process with Optuna's own TPESampler (no tie rule, singa.advisor.tpe) what that
          rule changes.

Everything runs on embedded PostgreSQL and Redis in a temporary directory, with the real admin
(in process) and the process container manager starting real worker processes.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from examples.models import declared_dependencies  # noqa: E402
from singa.constants import TrainJobStatus  # noqa: E402

INSTANT = textwrap.dedent('''
    from singa.model import BaseModel, FloatKnob

    class Instant(BaseModel):
        @staticmethod
        def get_knob_config():
            return {"x": FloatKnob(0.0, 1.0)}

        def train(self, dataset_path, shared_params=None, **kwargs):
            pass

        def evaluate(self, dataset_path):
            return self.knobs["x"]

        def predict(self, queries):
            return [self.knobs["x"] for _ in queries]

        def dump_parameters(self):
            return {"x": self.knobs["x"]}

        def load_parameters(self, params):
            pass
''')

BURN = INSTANT.replace('class Instant', 'class Burn').replace(
    'def train(self, dataset_path, shared_params=None, **kwargs):\n        pass',
    'def train(self, dataset_path, shared_params=None, **kwargs):\n'
    '        import time\n'
    '        end = time.process_time() + 1.0\n'
    '        while time.process_time() < end:\n'
    '            sum(i * i for i in range(1000))')
assert 'process_time' in BURN


class Bench:
    """Embedded servers, the admin app in process, and helpers to run jobs through its API."""

    def __init__(self, root: str):
        from singa.config import Settings
        from singa.local.servers import EmbeddedPostgres, EmbeddedRedis
        from singa.meta_store.db import MetaStore
        self.root = root
        self.pg = EmbeddedPostgres(os.path.join(root, 'pg')).start()
        self.redis = EmbeddedRedis(os.path.join(root, 'redis')).start()
        env = dict(self.pg.settings_env(), **self.redis.settings_env(),
                   SINGA_TOKEN_SECRET='bench-secret-0123456789abcdef', SINGA_SUPERADMIN_PASSWORD='bench-password',
                   SINGA_DATA_DIR=os.path.join(root, 'data'), SINGA_RECONCILE_INTERVAL='1')
        self.settings = Settings.from_env(env)
        self.store = MetaStore(self.settings.postgres_dsn)
        from singa.admin.app import create_app
        self.app = create_app(self.settings, meta_store=self.store)
        self.client = self.app.test_client()
        token = self._call('POST', '/tokens', json={'email': self.settings.superadmin_email,
                                                    'password': 'bench-password'})['token']
        self.headers = {'Authorization': f'Bearer {token}'}
        self.datasets = {}
        self.models = {}

    def _call(self, method, path, **kwargs):
        response = self.client.open(path, method=method, headers=getattr(self, 'headers', {}), **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f'{method} {path}: {response.status_code} {response.get_data(as_text=True)}')
        return response.get_json()

    def dataset(self, name: str, task: str = 'TABULAR_CLASSIFICATION') -> tuple:
        if name not in self.datasets:
            import subprocess
            out = os.path.join(self.root, 'datasets')
            subprocess.run([sys.executable, '-m', 'examples.datasets.build', '--out', out, name], cwd=REPO,
                           check=True, capture_output=True)
            ids = []
            for split in ('train', 'val'):
                path = os.path.join(out, f'{name}_{split}.csv')
                with open(path, 'rb') as f:
                    ids.append(self._call('POST', '/datasets', data={'name': f'{name}-{split}', 'task': task,
                                                                     'dataset': (f, os.path.basename(path))})['id'])
            self.datasets[name] = tuple(ids)
        return self.datasets[name]

    def model(self, source_or_path: str, cls: str) -> str:
        """Upload a template (a file path or its source) once; later calls return the same id."""
        key = (source_or_path, cls)
        if key not in self.models:
            self.models[key] = self._upload_model(source_or_path, cls)
        return self.models[key]

    def _upload_model(self, source_or_path: str, cls: str) -> str:
        """Upload as a user does, declaring what the template's ``DEPENDENCIES`` names."""
        path = source_or_path
        if not os.path.exists(path):
            path = os.path.join(self.root, f'{cls}-{time.monotonic_ns()}.py')
            with open(path, 'w') as f:
                f.write(source_or_path)
        with open(path, 'rb') as f:
            declared = declared_dependencies(f.read().decode())
            f.seek(0)
            fields = {'name': os.path.basename(path), 'task': 'TABULAR_CLASSIFICATION', 'model_class': cls,
                      'model_file_bytes': (f, 'model.py')}
            if declared is not None:
                fields['dependencies'] = json.dumps(declared)
            return self._call('POST', '/models', data=fields)['id']

    def run_job(self, app: str, model_ids, dataset: str, budget: dict, **extra) -> dict:
        """Run a train job on one template (an id) or several (a list of ids) to its end."""
        train_id, val_id = self.dataset(dataset)
        model_ids = [model_ids] if isinstance(model_ids, str) else model_ids
        self._call('POST', '/train_jobs', json={'app': app, 'task': 'TABULAR_CLASSIFICATION', 'train_dataset_id': train_id,
                                                'val_dataset_id': val_id, 'model_ids': model_ids, 'budget': budget,
                                                **extra})
        while True:
            job = self._call('GET', f'/train_jobs/{app}/-1')
            if job['status'] in TrainJobStatus.FINISHED:
                return job
            time.sleep(0.2)

    def set_durable(self, durable: bool) -> None:
        """Run PostgreSQL with its durable defaults, or with fsync, full_page_writes and
        synchronous_commit off (a reload; every session sees it)."""
        import psycopg2
        conn = psycopg2.connect(host='127.0.0.1', port=self.pg.port, user=self.pg.user, password=self.pg.password,
                                dbname=self.pg.db)
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in ('fsync', 'full_page_writes', 'synchronous_commit'):
                cur.execute(f'ALTER SYSTEM RESET {name}' if durable else f'ALTER SYSTEM SET {name} = off')
            cur.execute('SELECT pg_reload_conf()')
        conn.close()

    def trials(self, app: str) -> list:
        # The list is paged (1000 a page by default).
        out = []
        while True:
            page = self._call('GET', f'/train_jobs/{app}/-1/trials?limit=1000&offset={len(out)}')
            out.extend(page)
            if len(page) < 1000:
                return out

    def close(self):
        platform = self.app.extensions['singa']
        platform.reconciler.stop()
        platform.webhook_deliverer.stop()       # before PostgreSQL, which it polls
        manager = platform.container_manager
        for service in manager.list_services({}):
            manager.destroy_service(service, timeout=2)
        self.store.close()
        self.redis.stop()
        self.pg.stop()


def save_results(name: str, results: dict) -> None:
    """Save a benchmark's results as bench-results/<name>-<time>.json and say where."""
    os.makedirs(os.path.join(REPO, 'bench-results'), exist_ok=True)
    out = os.path.join(REPO, 'bench-results', f'{name}-{time.strftime("%Y%m%d-%H%M%S")}.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    print(f'\nsaved {out}')


def _span(trials: list) -> float:
    from datetime import datetime
    starts = [datetime.fromisoformat(t['started_at']) for t in trials]
    stops = [datetime.fromisoformat(t['stopped_at']) for t in trials]
    return (max(stops) - min(starts)).total_seconds()


def bench_overhead(bench: Bench, trials: int) -> dict:
    import dataclasses
    model = bench.model(INSTANT, 'Instant')
    deployer = bench.app.extensions['singa'].train_jobs.deployer
    sandboxed = deployer.settings
    rates = {'sandboxed': 0.0, 'plain': 0.0, 'not_durable': 0.0}
    # The same job with the model code sandboxed on a durable PostgreSQL (the default), in a plain
    # child (what the workers would start with SINGA_SANDBOX=none): the sandbox's own cost per
    # trial, and on a PostgreSQL that does not wait for the disk: durability's own cost. Two
    # rounds, alternating, the best of each kept, so that a burst of load elsewhere does not decide it.
    kinds = (('sandboxed', sandboxed, True),
             ('plain', dataclasses.replace(sandboxed, sandbox='none', single_user=True), True),
             ('not_durable', sandboxed, False))
    for round_no in range(2):
        for name, settings, durable in kinds:
            deployer.settings = settings
            bench.set_durable(durable)
            app = f'overhead-{name}-{round_no}'
            bench.run_job(f'{app}-warmup', model, 'iris', {'MODEL_TRIAL_COUNT': 20}, advisor='RANDOM')
            job = bench.run_job(app, model, 'iris', {'MODEL_TRIAL_COUNT': trials}, advisor='RANDOM')
            done = bench.trials(app)
            assert job['status'] == TrainJobStatus.STOPPED and len(done) == trials, job
            rates[name] = max(rates[name], len(done) / _span(done))
    deployer.settings = sandboxed
    bench.set_durable(True)
    platform = rates['sandboxed']

    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench.pg.create_database('optuna')   # its own tables (it has a "trials" too), the same server
    url = f'postgresql+psycopg2://{bench.pg.user}:{bench.pg.password}@127.0.0.1:{bench.pg.port}/optuna'
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(study_name=f'bench-{time.monotonic_ns()}', storage=storage, direction='maximize',
                                sampler=optuna.samplers.RandomSampler(seed=0))
    n = max(50, trials // 10)
    started = time.perf_counter()
    for _ in range(n):
        trial = study.ask()
        study.tell(trial, trial.suggest_float('x', 0.0, 1.0))
    optuna_rate = n / (time.perf_counter() - started)
    return {'platform_trials_per_s': platform, 'platform_ms_per_trial': 1000 / platform,
            'unsandboxed_trials_per_s': rates['plain'], 'unsandboxed_ms_per_trial': 1000 / rates['plain'],
            'not_durable_trials_per_s': rates['not_durable'], 'not_durable_ms_per_trial': 1000 / rates['not_durable'],
            'optuna_rdb_trials_per_s': optuna_rate, 'optuna_rdb_ms_per_trial': 1000 / optuna_rate,
            'speedup': platform / optuna_rate, 'trials': trials, 'optuna_trials': n}


def bench_scaling(bench: Bench, trials: int) -> dict:
    model = bench.model(BURN, 'Burn')
    out = {}
    for workers in (1, 2):
        app = f'scaling-{workers}'
        bench.run_job(app, model, 'iris', {'MODEL_TRIAL_COUNT': trials, 'WORKERS_PER_MODEL': workers}, advisor='RANDOM')
        done = bench.trials(app)
        out[f'workers_{workers}_trials_per_s'] = len(done) / _span(done)
    out['speedup'] = out['workers_2_trials_per_s'] / out['workers_1_trials_per_s']
    out['trials'] = trials
    return out


def _svc_knobs(trial) -> dict:
    """The SVC template's space written directly for Optuna (define-by-run conditions)."""
    kernel = trial.suggest_categorical('kernel', ['rbf', 'poly', 'linear'])
    return {'C': trial.suggest_float('C', 1e-2, 1e3, log=True), 'kernel': kernel,
            'gamma': trial.suggest_float('gamma', 1e-4, 1.0, log=True) if kernel in ('rbf', 'poly') else None,
            'degree': trial.suggest_int('degree', 2, 4) if kernel == 'poly' else None}


def _forest_knobs(trial) -> dict:
    """The random forest template's space written directly for Optuna."""
    return {'n_estimators': trial.suggest_int('n_estimators', 10, 150, log=True),
            'max_depth': trial.suggest_int('max_depth', 2, 20),
            'max_features': trial.suggest_float('max_features', 0.1, 1.0),
            'min_samples_leaf': trial.suggest_int('min_samples_leaf', 1, 16, log=True), 'seed': 0}


OTHER_SEED = 100   # plain Optuna is also run on seed + this: how much the seed alone moves the figures

# (name in the summary, column of a row), plain Optuna first: what the others are compared with.
QUALITY_COLUMNS = (('plain', 'plain_tpe_trials'), ('platform', 'platform_trials'),
                   ('untied', 'platform_untied_trials'), ('other_seed', 'plain_tpe_other_seed_trials'))
QUALITY_LABELS = {'plain': 'plain Optuna TPE', 'platform': 'platform (TPE)',
                  'untied': 'platform, no tie rule', 'other_seed': f'Optuna, seed+{OTHER_SEED}'}

# name: (template file, class, dataset, the same space for plain Optuna)
QUALITY_SPACES = {
    'svc-digits': ('sk_svc.py', 'SkSvc', 'digits', _svc_knobs),
    'forest-breast_cancer': ('sk_random_forest.py', 'SkRandomForestClf', 'breast_cancer', _forest_knobs),
}


def bench_quality(bench: Bench, space: str, seeds: int, budget: int = 60, tpe_budget: int = 100,
                  first_seed: int = 0) -> dict:
    """Trials needed to reach random search's best-in-60, for the platform (TPE) and plain Optuna TPE."""
    import optuna
    from singa.advisor import make_advisor
    from singa.advisor.optuna_advisor import make_sampler
    from singa.model import deserialize_knob_config
    from singa.model.loader import load_model_class
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    template, cls_name, dataset, optuna_knobs = QUALITY_SPACES[space]
    path = os.path.join(REPO, 'examples', 'models', template)
    model = bench.model(path, cls_name)
    bench.dataset(dataset)
    train_path, val_path = (os.path.join(bench.root, 'datasets', f'{dataset}_{s}.csv') for s in ('train', 'val'))
    cls = load_model_class(path, cls_name)
    cache: dict = {}

    def score(knobs: dict) -> float:
        key = json.dumps(knobs, sort_keys=True)
        if key not in cache:
            m = cls(**knobs)
            m.train(train_path)
            cache[key] = float(m.evaluate(val_path))
        return cache[key]

    def loop(advisor_type: str, seed: int, n: int, tpe_class=None) -> list:
        """Scores of the advisor's proposals in process; with ``tpe_class``, the TPE advisor
        with that sampler class instead of the platform's."""
        knob_config = deserialize_knob_config(bench._call('GET', f'/models/{model}')['knob_config'])
        advisor = make_advisor(knob_config, {'MODEL_TRIAL_COUNT': n}, advisor_type, seed=seed)
        if tpe_class is not None:
            advisor.study.sampler = make_sampler(advisor_type, seed, n, advisor.space.is_conditional, tpe_class)
        scores = []
        for no in range(1, n + 1):
            p = advisor.propose(no)
            s = score(p.knobs)
            advisor.feedback(no, s, 'COMPLETED')
            scores.append(s)
        return scores

    def first_reaching(scores: list, target: float):
        best = -1.0
        for i, s in enumerate(scores, 1):
            best = max(best, s)
            if best >= target - 1e-12:
                return i
        return None

    def plain_optuna_tpe(seed: int, n: int) -> list:
        study = optuna.create_study(direction='maximize', sampler=optuna.samplers.TPESampler(seed=seed))
        scores = []

        def objective(trial):
            scores.append(score(optuna_knobs(trial)))
            return scores[-1]

        study.optimize(objective, n_trials=n)
        return scores

    rows = []
    for seed in range(first_seed, first_seed + seeds):
        target = max(loop('RANDOM', 1000 + seed, budget))
        plain = first_reaching(plain_optuna_tpe(seed, tpe_budget), target)
        other = first_reaching(plain_optuna_tpe(OTHER_SEED + seed, tpe_budget), target)
        app = f'quality-{space}-{seed}'
        bench.run_job(app, model, dataset, {'MODEL_TRIAL_COUNT': tpe_budget}, advisor='TPE', seed=seed)
        done = sorted(bench.trials(app), key=lambda t: t['no'])
        platform = first_reaching([t['score'] if t['score'] is not None else -1 for t in done], target)
        untied = first_reaching(loop('TPE', seed, tpe_budget, optuna.samplers.TPESampler), target)
        rows.append({'seed': seed, 'random_best_in_60': target, 'plain_tpe_trials': plain, 'platform_trials': platform,
                     'platform_untied_trials': untied, 'plain_tpe_other_seed_trials': other})
        print(rows[-1], flush=True)
    return {'space': space, 'rows': rows, 'random_budget': budget, 'tpe_budget': tpe_budget,
            **_quality_summary(rows, tpe_budget)}


def _quality_summary(rows: list, tpe_budget: int) -> dict:
    """Medians and per-seed ratios over plain Optuna's trials (a seed never reaching the target
    counted as ``tpe_budget + 1`` trials; a seed fails above 1.5 times), for the platform and, as
    the noise of the seed-by-seed comparison, for plain Optuna on another seed."""
    never = tpe_budget + 1
    plain = [r['plain_tpe_trials'] or never for r in rows]
    out = {'plain_median': statistics.median(plain), 'plain_p90': _p90(plain)}
    for name, column in QUALITY_COLUMNS[1:]:
        trials = [r[column] or never for r in rows]
        ratios = [a / p for a, p in zip(trials, plain)]
        out.update({f'{name}_median': statistics.median(trials), f'{name}_p90': _p90(trials),
                    f'{name}_worst_ratio': max(ratios), f'{name}_seeds_over_1_5x': sum(r > 1.5 for r in ratios)})
    return out


def _p90(values: list) -> float:
    """The 90th percentile (linear between the closest ranks)."""
    return statistics.quantiles(values, n=10, method='inclusive')[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('which', nargs='*', default=['overhead', 'scaling', 'quality'])
    parser.add_argument('--trials', type=int, default=2000)
    parser.add_argument('--scaling-trials', type=int, default=8)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--first-seed', type=int, default=0, help='quality: seeds from this one on')
    parser.add_argument('--spaces', nargs='+', default=list(QUALITY_SPACES), choices=list(QUALITY_SPACES))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix='singa-bench-') as root:
        bench = Bench(root)
        try:
            if 'overhead' in args.which:
                r = results['overhead'] = bench_overhead(bench, args.trials)
                print('\nPlatform overhead (instant template, RANDOM advisor, 1 worker)')
                print(f'{"":28} {"trials/s":>10} {"ms/trial":>10}')
                print(f'{"SingaAuto (whole platform)":28} {r["platform_trials_per_s"]:10.1f} {r["platform_ms_per_trial"]:10.2f}')
                print(f'{"  same, model code unsandboxed":28} {r["unsandboxed_trials_per_s"]:10.1f} '
                      f'{r["unsandboxed_ms_per_trial"]:10.2f}')
                print(f'{"  same, PostgreSQL not durable":28} {r["not_durable_trials_per_s"]:10.1f} '
                      f'{r["not_durable_ms_per_trial"]:10.2f}')
                print(f'{"Optuna ask/tell on RDB":28} {r["optuna_rdb_trials_per_s"]:10.1f} {r["optuna_rdb_ms_per_trial"]:10.2f}')
                print(f'speedup: {r["speedup"]:.1f}x over {r["trials"]} platform trials, {r["optuna_trials"]} Optuna trials')
            if 'scaling' in args.which:
                r = results['scaling'] = bench_scaling(bench, args.scaling_trials)
                print('\nScaling (each trial burns ~1 s of CPU)')
                print(f'1 worker: {r["workers_1_trials_per_s"]:.2f} trials/s   2 workers: '
                      f'{r["workers_2_trials_per_s"]:.2f} trials/s   speedup {r["speedup"]:.2f}x')
            if 'quality' in args.which:
                results['quality'] = [bench_quality(bench, space, args.seeds, first_seed=args.first_seed) for space in args.spaces]
                print('\nSearch quality: trials to reach the best score random search finds in 60 '
                      '(ratios: over plain Optuna\'s trials on the same seed)')
                for r in results['quality']:
                    print(f'\n{r["space"]} (None: not reached in {r["tpe_budget"]} trials)')
                    print(f'{"seed":>4} {"target":>8} ' + ' '.join(f'{QUALITY_LABELS[n]:>22}' for n, _ in QUALITY_COLUMNS))
                    for row in r['rows']:
                        print(f'{row["seed"]:4} {row["random_best_in_60"]:8.4f} '
                              + ' '.join(f'{str(row[c]):>22}' for _, c in QUALITY_COLUMNS))
                    print(f'plain Optuna TPE: median {r["plain_median"]:g}, 90th percentile {r["plain_p90"]:g}')
                    for name, _ in QUALITY_COLUMNS[1:]:
                        print(f'{QUALITY_LABELS[name]}: median {r[f"{name}_median"]:g}, 90th percentile '
                              f'{r[f"{name}_p90"]:g}; worst ratio {r[f"{name}_worst_ratio"]:.2f}; seeds over 1.5x: '
                              f'{r[f"{name}_seeds_over_1_5x"]} of {len(r["rows"])}')
        finally:
            bench.close()
    save_results('train', results)


if __name__ == '__main__':
    main()
