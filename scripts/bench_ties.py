"""Benchmark (not a test): which trial among those tied at the best validation score generalises best.

For each dataset, template and seed: split the data 60/20/20 with that seed (stratified, as
examples/datasets/build.py does), run the platform's advisor for N trials (TPE, seeded), and score
every trial on the held-out test split. Trials tie with the best when their validation score is
within one validation example of it (1 / validation rows, the platform's tolerance for
classification accuracy). Among the tied trials, compare the test accuracy of the one picked by:

- earliest: the first to finish (what arrival order gives);
- best_val: the first to finish of those at the very best validation score (exact ties only);
- smallest, largest: the smallest (largest) saved parameters (``params_bytes``, as the train
  worker encodes them);
- fastest: the fastest prediction (``predict_latency_ms``, measured as the train worker does);
- flattest: the one whose 3 nearest trials in knob space (numeric knobs, log scale where
  exponential) score best on validation: the flattest region of the search, known for free;
- cv: the best k-fold cross-validation accuracy on the training split (k more trainings a tie);
- mean: the mean over the tied trials (what a pick at random gives on average).

Prints a table and writes JSON under bench-results/.

    python scripts/bench_ties.py [--trials 30] [--seeds 0 1 2 3 4] [--folds 5]
    python scripts/bench_ties.py --table bench-results/ties-....json   # the table of a saved run
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from sklearn.model_selection import StratifiedKFold  # noqa: E402

from examples.datasets import build  # noqa: E402
from singa.advisor import make_advisor  # noqa: E402
from singa.model.loader import load_model_class  # noqa: E402
from singa.param_store.codec import encode_params  # noqa: E402
from singa.sandbox.child import measure_latency  # noqa: E402

DATASETS = ('wine', 'breast_cancer')
TEMPLATES = {'random_forest': ('sk_random_forest.py', 'SkRandomForestClf'),
             'logistic_regression': ('sk_logistic_regression.py', 'SkLogisticRegression')}
RULES = ('earliest', 'best_val', 'smallest', 'largest', 'fastest', 'flattest', 'cv', 'mean')


def write_splits(name: str, seed: int, out_dir: str) -> dict:
    """The dataset's train/val/test CSVs split with ``seed``; returns ``{part: (path, X, y)}``."""
    data = build._LOADERS[name]()
    names = [build.column_name(n) for n in data.feature_names]
    parts = {}
    for part, (X, y) in build.split(data.data, data.target, True, seed=seed).items():
        path = os.path.join(out_dir, f'{name}_{seed}_{part}.csv')
        build.write_csv(path, X, y, names)
        parts[part] = (path, X, y)
    return parts


def cv_accuracy(cls, knobs: dict, X, y, names, folds: int, seed: int, out_dir: str) -> float:
    """Mean accuracy over ``folds`` stratified folds of the training split (the template's own
    train and evaluate, on fold files)."""
    scores = []
    for i, (fit, held) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y)):
        fit_path, held_path = (os.path.join(out_dir, f'fold{i}_{p}.csv') for p in ('fit', 'held'))
        build.write_csv(fit_path, X[fit], y[fit], names)
        build.write_csv(held_path, X[held], y[held], names)
        model = cls(**knobs)
        model.train(fit_path)
        scores.append(float(model.evaluate(held_path)))
    return statistics.fmean(scores)


def run_once(dataset: str, template: str, seed: int, trials: int, folds: int) -> dict:
    file, class_name = TEMPLATES[template]
    cls = load_model_class(os.path.join(ROOT, 'examples', 'models', file), class_name)
    with tempfile.TemporaryDirectory(prefix='singa-bench-ties-') as tmp:
        parts = write_splits(dataset, seed, tmp)
        names = [build.column_name(n) for n in build._LOADERS[dataset]().feature_names]
        advisor = make_advisor(cls.get_knob_config(), {'MODEL_TRIAL_COUNT': trials}, 'TPE', seed=seed)
        done = []
        for no in range(1, trials + 1):
            proposal = advisor.propose(no)
            if proposal is None:
                break
            model = cls(**proposal.knobs)
            started = time.perf_counter()
            model.train(parts['train'][0])
            train_seconds = time.perf_counter() - started
            val = float(model.evaluate(parts['val'][0]))
            done.append({'no': no, 'knobs': proposal.knobs, 'val': val, 'test': float(model.evaluate(parts['test'][0])),
                         'params_bytes': len(encode_params(model.dump_parameters())), 'train_seconds': train_seconds,
                         'predict_latency_ms': measure_latency(model, 'TABULAR_CLASSIFICATION', parts['val'][0], {})})
            advisor.feedback(no, val, 'COMPLETED')
        best = max(t['val'] for t in done)
        resolution = 1 / len(parts['val'][2])
        tied = [t for t in done if t['val'] >= best - resolution - 1e-9]
        started = time.perf_counter()
        for t in tied if folds > 1 else ():
            t['cv'] = cv_accuracy(cls, t['knobs'], *parts['train'][1:], names, folds, seed, tmp)
        cv_seconds = time.perf_counter() - started
    return {'dataset': dataset, 'template': template, 'seed': seed, 'resolution': resolution,
            'train_seconds': sum(t['train_seconds'] for t in done), 'cv_seconds': cv_seconds, 'trial_rows': done}


def _unit(knob, value) -> float:
    """A numeric knob's value on [0, 1] (log scale for an exponential knob)."""
    low, high, value = float(knob.value_min), float(knob.value_max), float(value)
    if knob.is_exp:
        low, high, value = math.log(low), math.log(high), math.log(value)
    return (value - low) / (high - low) if high > low else 0.0


def neighbourhood(run: dict, trial: dict, k: int = 3) -> float:
    """The mean validation score of the ``k`` trials nearest to ``trial`` in its template's numeric
    knob space: how flat the region it sits in is."""
    file, class_name = TEMPLATES[run['template']]
    knobs = {name: knob for name, knob in load_model_class(os.path.join(ROOT, 'examples', 'models', file),
                                                           class_name).get_knob_config().items()
             if hasattr(knob, 'is_exp')}

    def point(t):
        return [_unit(knob, t['knobs'][name]) for name, knob in knobs.items()]
    here = point(trial)
    others = sorted((math.dist(here, point(t)), t['val']) for t in run['trial_rows'] if t is not trial)
    return statistics.fmean(val for _, val in others[:k])


def picks(run: dict) -> dict:
    """The test accuracy of the trial each rule picks among one run's ties (``mean``: their mean).
    ``min``/``max`` keep the first of equals: the earliest."""
    done = run['trial_rows']
    best = max(t['val'] for t in done)
    tied = [t for t in done if t['val'] >= best - run['resolution'] - 1e-9]
    exact = [t for t in tied if t['val'] >= best - 1e-9]
    chosen = {'earliest': tied[0], 'best_val': exact[0], 'smallest': min(tied, key=lambda t: t['params_bytes']),
              'largest': max(tied, key=lambda t: t['params_bytes']),
              'fastest': min(tied, key=lambda t: t['predict_latency_ms']),
              'flattest': max(tied, key=lambda t: neighbourhood(run, t)),
              'cv': max(tied, key=lambda t: t.get('cv', math.nan))}
    test = {rule: pick['test'] for rule, pick in chosen.items()}
    if 'cv' not in tied[0]:
        test['cv'] = math.nan                  # run with --folds 0: no cross-validation
    test['mean'] = statistics.fmean(t['test'] for t in tied)
    return {'test': test, 'exact_ties': len(exact), 'near_ties': len(tied), 'trials': len(done)}


def report(runs: list) -> dict:
    """Print the table (one row per dataset and template, means over seeds); the summary."""
    print(f'{"dataset":14s} {"template":20s} {"ties exact/near":>16s} ' + ' '.join(f'{r:>9s}' for r in RULES)
          + f' {"cv cost":>8s}')
    for key in dict.fromkeys((r['dataset'], r['template']) for r in runs):
        group = [r for r in runs if (r['dataset'], r['template']) == key]
        found = [picks(r) for r in group]
        exact = statistics.fmean(p['exact_ties'] for p in found)
        near = statistics.fmean(p['near_ties'] for p in found)
        means = {rule: statistics.fmean(p['test'][rule] for p in found) for rule in RULES}
        cost = sum(r['cv_seconds'] for r in group) / sum(r['train_seconds'] for r in group)
        print(f'{key[0]:14s} {key[1]:20s} {exact:7.1f}/{near:<8.1f} '
              + ' '.join(f'{means[r]:9.4f}' for r in RULES) + f' {cost:7.1f}x')
    found = [picks(r) for r in runs]
    overall = {rule: statistics.fmean(p['test'][rule] for p in found) for rule in RULES}
    wins = {rule: sum(p['test'][rule] > p['test']['earliest'] + 1e-12 for p in found) for rule in RULES}
    losses = {rule: sum(p['test'][rule] < p['test']['earliest'] - 1e-12 for p in found) for rule in RULES}
    print(f'{"all":14s} {"":20s} {"":16s} ' + ' '.join(f'{overall[r]:9.4f}' for r in RULES))
    print('runs better/worse than earliest: ' + ', '.join(f'{r} {wins[r]}/{losses[r]}' for r in RULES if r != 'earliest'))
    return {'overall': overall, 'wins': wins, 'losses': losses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=30)
    parser.add_argument('--seeds', type=int, nargs='+', default=list(range(5)))
    parser.add_argument('--folds', type=int, default=5, help='k of the k-fold CV (0: no CV)')
    parser.add_argument('--datasets', nargs='+', default=list(DATASETS))
    parser.add_argument('--templates', nargs='+', default=list(TEMPLATES), choices=list(TEMPLATES))
    parser.add_argument('--table', metavar='JSON', help='print the table of a saved run instead of running')
    args = parser.parse_args()
    if args.table:
        with open(args.table) as f:
            saved = json.load(f)
        print(f'{saved["args"]["trials"]} trials (TPE) a run, seeds {saved["args"]["seeds"]}, from {args.table}')
        report(saved['runs'])
        return
    print(f'{args.trials} trials (TPE) a run, seeds {args.seeds}, ties within one validation example, '
          f'CV {args.folds}-fold on the training split; test accuracy of the tie each rule picks')
    runs = [run_once(dataset, template, seed, args.trials, args.folds)
            for dataset in args.datasets for template in args.templates for seed in args.seeds]
    summary = report(runs)
    out_dir = os.path.join(ROOT, 'bench-results')
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f'ties-{time.strftime("%Y%m%d-%H%M%S")}.json')
    with open(out, 'w') as f:
        json.dump({'args': vars(args), **summary, 'runs': runs}, f, indent=1)
    print(f'saved {out}')


if __name__ == '__main__':
    main()
