"""Benchmark (not a test): how often the advisor proposes a knob set it already proposed.

On a finite space of 2 x 2 x 2 = 8 configurations (and a conditional one of 8), for TPE and
random search, over several seeds; each trial's score is a fixed function of its knobs.

    python scripts/bench_repeats.py [--trials 5] [--seeds 0 1 2 3 4 5 6 7] [--allow-repeats]
"""
import argparse
import json
import os
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from singa.advisor import make_advisor  # noqa: E402
from singa.advisor.space import SearchSpace  # noqa: E402
from singa.model import CategoricalKnob, IntegerKnob  # noqa: E402

SPACES = {
    'plain': {'criterion': CategoricalKnob(['gini', 'entropy']), 'depth': IntegerKnob(2, 3),
              'balanced': CategoricalKnob([False, True])},
    'conditional': {'clf': CategoricalKnob(['svc', 'tree']),
                    'kernel': CategoricalKnob(['rbf', 'poly', 'linear'], condition={'clf': ['svc']}),
                    'depth': IntegerKnob(1, 5, condition={'clf': ['tree']})},
}


def score(knobs: dict) -> float:
    return (zlib.crc32(json.dumps(knobs, sort_keys=True).encode()) % 1000) / 1000


def run_once(config: dict, advisor_type: str, trials: int, seed: int, allow_repeats: bool) -> dict:
    space = SearchSpace(config)
    options = {'allow_repeats': True} if allow_repeats else {}
    advisor = make_advisor(config, {'MODEL_TRIAL_COUNT': trials}, advisor_type, seed=seed, **options)
    keys = []
    for no in range(1, trials + 1):
        proposal = advisor.propose(no)
        if proposal is None:
            break
        keys.append(space.config_key(proposal.knobs))
        advisor.feedback(no, score(proposal.knobs), 'COMPLETED')
    return {'proposed': len(keys), 'repeats': len(keys) - len(set(keys))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--trials', type=int, default=5)
    parser.add_argument('--seeds', type=int, nargs='+', default=list(range(8)))
    parser.add_argument('--allow-repeats', action='store_true')
    args = parser.parse_args()
    for name, config in SPACES.items():
        for advisor_type in ('TPE', 'RANDOM'):
            runs = [run_once(config, advisor_type, args.trials, s, args.allow_repeats) for s in args.seeds]
            proposed = sum(r['proposed'] for r in runs)
            repeats = sum(r['repeats'] for r in runs)
            print(f'{name:12s} {advisor_type:7s} {args.trials} trials x {len(runs)} seeds: '
                  f'{repeats}/{proposed} proposals repeated ({repeats / max(1, proposed):.0%}); '
                  f'per seed {[r["repeats"] for r in runs]}')


if __name__ == '__main__':
    main()
