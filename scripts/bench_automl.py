"""The 60-second benchmark (issue 17, not a test): the platform against an Optuna loop and FLAML.

    pip install -r scripts/bench-requirements.txt      # flaml, lightgbm, xgboost (benchmark only)
    python scripts/bench_automl.py [--seconds 60] [--seeds 3] [--datasets digits breast_cancer wine]
                                   [--systems platform optuna flaml] [--compare-shipped]

For each dataset (train, validation and test splits of ``examples.datasets.build``) and seed,
three systems get the same time budget and two CPU workers, in turns (the order rotates with
each round, so a burst of load elsewhere on the machine hits every system alike):

platform  as a user runs it: the example templates a user would upload for tabular classification
          (``templates()``), each declaring at upload what its ``DEPENDENCIES`` names (XGBoost's
          template: ``xgboost-cpu``, which the platform installs for it), one train job with ``TIME_HOURS`` = seconds / 3600, one train worker
          per template and at most 2 trials running at once across the job
          (``MAX_CONCURRENT_TRIALS``), the job's seed, every other setting its default; then
          ``create_inference_job`` with its defaults, and the test split sent to the predictor
          over HTTP with the prediction key. Reported: the deployed ensemble's test accuracy, the
          best trial's validation score, and (from the predictor's per-model answers) the test
          accuracy of the best trial alone.
optuna    a plain Optuna study over the same templates' knob spaces (define-by-run: the template,
          then its knobs), TPE, ``n_jobs=2``, ``timeout`` = seconds, trained in process; the best
          trial's model on the test split.
flaml     ``flaml.AutoML().fit(X_train, y_train, X_val=..., y_val=..., task='classification',
          metric='accuracy', time_budget=seconds, n_jobs=2, seed=...)`` with its default
          estimators (and its default ``retrain_full``: the best configuration is refit on train +
          validation when the budget allows); its model on the test split.

``--compare-shipped`` adds ``platform-shipped``: the platform with the templates as they were
before this benchmark (no extra-trees template), in the same rounds.

Prints a table (test and validation accuracy, mean/min/max over seeds, trials run) and saves JSON
under bench-results/.
"""
import argparse
import csv
import datetime
import importlib.util
import os
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench_train import Bench, save_results  # noqa: E402
from singa.constants import InferenceJobStatus  # noqa: E402

MODELS = os.path.join(REPO, 'examples', 'models')
# The templates a user reasonably uploads to tune a tabular classifier for accuracy: the strong
# families (forests, boosted trees, an SVM, a linear model). Left out: the single decision tree
# and SGD (dominated by the forests and by logistic regression), and the PyTorch MLP (a PyTorch
# import per trial; on these datasets no better than the SVC).
SHIPPED = [('sk_random_forest.py', 'SkRandomForestClf'), ('sk_gradient_boosting.py', 'SkGradientBoostingClf'),
           ('sk_logistic_regression.py', 'SkLogisticRegression'), ('sk_svc.py', 'SkSvc')]
XGB = ('xgb_boosting.py', 'XgbBoostingClf')
EXTRA_TREES = ('sk_extra_trees.py', 'SkExtraTreesClf')
WORKERS = 2
REQUIREMENTS = 'scripts/bench-requirements.txt'


def templates(shipped_only: bool = False) -> list:
    out = [*SHIPPED, XGB]
    if not shipped_only and os.path.exists(os.path.join(MODELS, EXTRA_TREES[0])):
        out.append(EXTRA_TREES)
    return out


def read_split(root: str, dataset: str, split: str) -> tuple:
    """(rows as dicts of floats without the target, labels)."""
    with open(os.path.join(root, 'datasets', f'{dataset}_{split}.csv')) as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in row.items() if k != 'target'} for row in rows], [int(r['target']) for r in rows]


def accuracy(probabilities: list, labels: list) -> float:
    hits = sum(max(range(len(p)), key=p.__getitem__) == y for p, y in zip(probabilities, labels))
    return hits / len(labels)


# -- the platform -----------------------------------------------------------------------------

def run_platform(bench: Bench, dataset: str, seed: int, seconds: float, chosen: list, tag: str) -> dict:
    ids = [bench.model(os.path.join(MODELS, file), cls) for file, cls in chosen]
    app = f'{tag}-{dataset}-{seed}'.replace('_', '-')
    started = time.monotonic()
    job = bench.run_job(app, ids, dataset, {'TIME_HOURS': seconds / 3600, 'WORKERS_PER_MODEL': 1,
                                            'MAX_CONCURRENT_TRIALS': WORKERS}, seed=seed)
    train_seconds = time.monotonic() - started
    trials = bench.trials(app)
    done = [t for t in trials if t['status'] == 'COMPLETED']
    best = bench._call('GET', f'/train_jobs/{app}/-1/trials?type=best&max_count=1')[0]   # the platform's rule
    per_template = {}
    for t in done:
        row = per_template.setdefault(t['model_name'], {'trials': 0, 'best_val': 0.0})
        row['trials'] += 1
        row['best_val'] = max(row['best_val'], t['score'])
    queries, labels = read_split(bench.root, dataset, 'test')
    bench._call('POST', '/inference_jobs', json={'app': app})
    try:
        while True:
            inference = bench._call('GET', f'/inference_jobs/{app}/-1')
            if inference['status'] == InferenceJobStatus.RUNNING:
                break
            if inference['status'] in InferenceJobStatus.FINISHED:
                raise RuntimeError(f'inference job {app}: {inference}')
            time.sleep(0.2)
        key = bench._call('POST', f'/inference_jobs/{app}/-1/keys', json={'name': 'bench'})['key']
        import requests
        response = requests.post(inference['predictor_url'] + '/predict', timeout=60,
                                 headers={'Authorization': f'Bearer {key}'},
                                 json={'queries': queries, 'details': True})
        response.raise_for_status()
        answer = response.json()
    finally:
        bench._call('POST', f'/inference_jobs/{app}/-1/stop')
    deployed = {m['trial_id']: accuracy(m['predictions'], labels) for m in answer['model_predictions']}
    return {'test': accuracy(answer['predictions'], labels), 'val': best['score'], 'trials': len(done),
            'trials_started': len(trials), 'best_trial_test': deployed.get(best['id']),
            'best_model': best['model_name'], 'train_seconds': train_seconds, 'per_template': per_template,
            'most_running': most_running(trials), **time_use(job, trials, seconds),
            'deployed': [{'model': m['model_name'], 'test': deployed[m['trial_id']]}
                         for m in answer['model_predictions']]}


def most_running(trials: list) -> int:
    """The most trials that ran at the same time (from their start and stop times)."""
    edges = sorted([(t['started_at'], 1) for t in trials if t['started_at'] and t['stopped_at']]
                   + [(t['stopped_at'], -1) for t in trials if t['started_at'] and t['stopped_at']],
                   key=lambda e: (datetime.datetime.fromisoformat(e[0]), e[1]))
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def time_use(job: dict, trials: list, seconds: float) -> dict:
    """When the first trial began (seconds after the job was created), and the share of the
    budget's worker-seconds that trials ran (from their recorded start and stop times)."""
    def at(stamp):
        return datetime.datetime.fromisoformat(stamp)
    ran = [t for t in trials if t['started_at'] and t['stopped_at']]
    if not ran:
        return {}
    created = at(job['created_at'])
    busy = sum((at(t['stopped_at']) - at(t['started_at'])).total_seconds() for t in ran)
    return {'first_trial_after': min((at(t['started_at']) - created).total_seconds() for t in ran),
            'busy_share': busy / (WORKERS * seconds)}


# -- Optuna -----------------------------------------------------------------------------------

def suggest_knobs(trial, prefix: str, knob_config: dict) -> dict:
    """A template's knobs, define-by-run (a conditional knob only when its condition holds)."""
    from singa.model import CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob
    knobs = {}
    for name, knob in knob_config.items():
        if knob.condition and any(knobs.get(k) not in allowed for k, allowed in knob.condition.items()):
            knobs[name] = None
        elif isinstance(knob, FixedKnob):
            knobs[name] = knob.value
        elif isinstance(knob, PolicyKnob):
            knobs[name] = False
        elif isinstance(knob, CategoricalKnob):
            knobs[name] = trial.suggest_categorical(f'{prefix}.{name}', knob.values)
        elif isinstance(knob, IntegerKnob):
            knobs[name] = trial.suggest_int(f'{prefix}.{name}', knob.value_min, knob.value_max, log=knob.is_exp)
        elif isinstance(knob, FloatKnob):
            knobs[name] = trial.suggest_float(f'{prefix}.{name}', knob.value_min, knob.value_max, log=knob.is_exp)
        else:
            raise TypeError(f'{prefix}: knob {name} is a {type(knob).__name__}, which this loop does not search')
    return knobs


def run_optuna(root: str, dataset: str, seed: int, seconds: float, chosen: list) -> dict:
    import optuna
    from singa.model.loader import load_model_class
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    classes = {cls: load_model_class(os.path.join(MODELS, file), cls) for file, cls in chosen}
    train_path, val_path = (os.path.join(root, 'datasets', f'{dataset}_{s}.csv') for s in ('train', 'val'))
    models, lock = {}, threading.Lock()

    def objective(trial):
        name = trial.suggest_categorical('template', sorted(classes))
        model = classes[name](**suggest_knobs(trial, name, classes[name].get_knob_config()))
        model.train(train_path)
        score = float(model.evaluate(val_path))
        with lock:
            models[trial.number] = model
        return score

    study = optuna.create_study(direction='maximize', sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=seconds, n_jobs=WORKERS)
    best = study.best_trial
    queries, labels = read_split(root, dataset, 'test')
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {'test': accuracy(models[best.number].predict(queries), labels), 'val': best.value, 'trials': len(done),
            'best_model': best.params['template']}


# -- FLAML ------------------------------------------------------------------------------------

def run_flaml(root: str, dataset: str, seed: int, seconds: float) -> dict:
    import flaml
    import numpy as np
    split = {s: read_split(root, dataset, s) for s in ('train', 'val', 'test')}
    X = {s: np.array([list(r.values()) for r in rows]) for s, (rows, _) in split.items()}
    y = {s: np.array(labels) for s, (_, labels) in split.items()}
    automl = flaml.AutoML()
    automl.fit(X['train'], y['train'], X_val=X['val'], y_val=y['val'], task='classification', metric='accuracy',
               time_budget=seconds, n_jobs=WORKERS, seed=seed, verbose=0)
    # FLAML counts its trials per estimator only privately (its config_history holds the improvements).
    per_learner = getattr(automl, '_iter_per_learner', None)
    trials = sum(per_learner.values()) if per_learner else None
    return {'test': float(np.mean(automl.predict(X['test']) == y['test'])), 'val': 1 - automl.best_loss,
            'trials': trials, 'best_model': automl.best_estimator}


# -- the rounds and the table -----------------------------------------------------------------

def summary(runs: list) -> list:
    rows = []
    for dataset in dict.fromkeys(r['dataset'] for r in runs):
        for system in dict.fromkeys(r['system'] for r in runs):
            mine = [r for r in runs if r['dataset'] == dataset and r['system'] == system]
            if not mine:
                continue
            row = {'dataset': dataset, 'system': system, 'seeds': len(mine)}
            for figure in ('test', 'val', 'best_trial_test', 'trials'):
                values = [r[figure] for r in mine if r.get(figure) is not None]
                if values:
                    row[figure] = {'mean': sum(values) / len(values), 'min': min(values), 'max': max(values)}
            rows.append(row)
    return rows


def print_table(rows: list) -> None:
    def fig(row, name, digits=3):
        v = row.get(name)
        return f'{v["mean"]:.{digits}f} ({v["min"]:.{digits}f}-{v["max"]:.{digits}f})' if v else '-'
    print(f'\n{"dataset":14} {"system":17} {"test accuracy":>21} {"validation accuracy":>21} '
          f'{"best trial on test":>21} {"trials":>12}')
    for row in rows:
        trials = f'{row["trials"]["mean"]:.0f}' if row.get('trials') else '-'
        print(f'{row["dataset"]:14} {row["system"]:17} {fig(row, "test"):>21} {fig(row, "val"):>21} '
              f'{fig(row, "best_trial_test"):>21} {trials:>12}')


def check_requirements(systems: list) -> None:
    # The Optuna loop trains the templates here, XGBoost's too; the platform installs what they declare.
    needed = {'flaml': ['flaml', 'lightgbm', 'xgboost'], 'optuna': ['optuna', 'xgboost']}
    missing = sorted({m for s in systems for m in needed.get(s, []) if importlib.util.find_spec(m) is None})
    if missing:
        sys.exit(f'bench_automl needs {", ".join(missing)} (benchmark only, not the platform\'s dependencies): '
                 f'pip install -r {REQUIREMENTS}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0)
    parser.add_argument('--seeds', type=int, default=3)
    parser.add_argument('--datasets', nargs='+', default=['digits', 'breast_cancer', 'wine'])
    parser.add_argument('--systems', nargs='+', default=['platform', 'optuna', 'flaml'],
                        choices=['platform', 'optuna', 'flaml'])
    parser.add_argument('--compare-shipped', action='store_true',
                        help='also run the platform with the templates as shipped before this benchmark')
    args = parser.parse_args()
    check_requirements(args.systems)
    systems = list(args.systems) + (['platform-shipped'] if args.compare_shipped else [])
    chosen = templates()
    print('templates:', ', '.join(cls for _, cls in chosen), flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix='singa-bench-automl-') as root:
        bench = Bench(root)
        try:
            round_no = 0
            for dataset in args.datasets:
                bench.dataset(dataset)
                for seed in range(args.seeds):
                    order = systems[round_no % len(systems):] + systems[:round_no % len(systems)]
                    round_no += 1
                    for system in order:
                        started = time.monotonic()
                        if system == 'platform':
                            out = run_platform(bench, dataset, seed, args.seconds, chosen, 'p')
                        elif system == 'platform-shipped':
                            out = run_platform(bench, dataset, seed, args.seconds, templates(shipped_only=True), 's')
                        elif system == 'optuna':
                            out = run_optuna(root, dataset, seed, args.seconds, chosen)
                        else:
                            out = run_flaml(root, dataset, seed, args.seconds)
                        out.update(dataset=dataset, seed=seed, system=system,
                                   wall_seconds=time.monotonic() - started, load=os.getloadavg()[0])
                        runs.append(out)
                        print(f'{dataset:14} seed {seed} {system:17} test {out["test"]:.3f}  val {out["val"]:.3f}  '
                              f'trials {out["trials"]}  best {out.get("best_model")}  '
                              f'({out["wall_seconds"]:.0f} s, load {out["load"]:.1f})', flush=True)
        finally:
            bench.close()
    rows = summary(runs)
    print_table(rows)
    results = {'seconds': args.seconds, 'workers': WORKERS, 'templates': [c for _, c in chosen],
               'cpus': os.cpu_count(), 'summary': rows, 'runs': runs}
    save_results('automl', results)


if __name__ == '__main__':
    main()
