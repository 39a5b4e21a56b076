"""Benchmark the advisors (not a test): best validation score against the number of trials.

On the digits tabular dataset with the PyTorch MLP template (it reports intermediate scores, so
pruning can act), for TPE, random search and TPE with the median pruner, over several seeds.
Prints a table and writes JSON under bench-results/.

    python scripts/bench_advisors.py [--trials 16] [--seeds 0 1 2]
"""
import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from examples.datasets.build import build  # noqa: E402
from singa.model import dev  # noqa: E402

STRATEGIES = {'TPE': ('TPE', 'NONE'), 'RANDOM': ('RANDOM', 'NONE'), 'TPE+MEDIAN': ('TPE', 'MEDIAN')}
TEMPLATE = os.path.join(ROOT, 'examples', 'models', 'torch_mlp.py')


def run_once(train, val, advisor, pruner, trials, seed):
    started = time.time()
    result = dev.run_model_class(TEMPLATE, 'TorchMlpClf', 'TABULAR_CLASSIFICATION', None, train, val,
                                 budget={'MODEL_TRIAL_COUNT': trials}, advisor=advisor, pruner=pruner,
                                 seed=seed, out=io.StringIO())
    best, curve = None, []
    for t in result.trials:
        if t.score is not None and t.status == 'COMPLETED':
            best = t.score if best is None else max(best, t.score)
        curve.append(best)
    return {'curve': curve, 'seconds': time.time() - started,
            'pruned': sum(t.status == 'PRUNED' for t in result.trials),
            'statuses': [t.status for t in result.trials]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trials', type=int, default=16)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    args = parser.parse_args(argv)
    data = tempfile.mkdtemp(prefix='bench-data-')
    paths = build('digits', data)
    results = {}
    for name, (advisor, pruner) in STRATEGIES.items():
        results[name] = [run_once(paths['train'], paths['val'], advisor, pruner, args.trials, s) for s in args.seeds]
        print(f'{name}: done in {sum(r["seconds"] for r in results[name]):.0f} s', flush=True)
    checkpoints = [n for n in (2, 4, 8, 12, 16, 24, 32) if n <= args.trials]
    print(f'\nBest validation accuracy after N trials (mean over seeds {args.seeds}; min-max)')
    print(f'{"strategy":<12}' + ''.join(f'{"N=" + str(n):>22}' for n in checkpoints) + f'{"pruned":>8}{"secs":>8}')
    for name, runs in results.items():
        cells = []
        for n in checkpoints:
            values = [r['curve'][n - 1] for r in runs if r['curve'][n - 1] is not None]
            cells.append(f'{statistics.mean(values):.4f} ({min(values):.3f}-{max(values):.3f})'
                         if values else '-')
        pruned = statistics.mean(r['pruned'] for r in runs)
        secs = statistics.mean(r['seconds'] for r in runs)
        print(f'{name:<12}' + ''.join(f'{c:>22}' for c in cells) + f'{pruned:>8.1f}{secs:>8.1f}')
    out_dir = os.path.join(ROOT, 'bench-results')
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f'advisors-{time.strftime("%Y%m%d-%H%M%S")}.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump({'trials': args.trials, 'seeds': args.seeds, 'template': 'TorchMlpClf', 'dataset': 'digits',
                   'results': results}, f, indent=1)
    print(f'\nSaved {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
