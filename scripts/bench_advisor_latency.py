"""Measure the advisor's cost per trial round trip (propose + feedback), not a test.

For random search and TPE, on a conditional SVC-like space and a flat numeric one, after 100 and
1000 past trials (restored the way an advisor restart rebuilds them).

    python scripts/bench_advisor_latency.py
"""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from singa.advisor import PastTrial, make_advisor  # noqa: E402
from singa.model import CategoricalKnob, FloatKnob, IntegerKnob  # noqa: E402

SPACES = {
    'conditional': {'C': FloatKnob(1e-2, 1e3, is_exp=True), 'kernel': CategoricalKnob(['rbf', 'poly', 'linear']),
                    'gamma': FloatKnob(1e-4, 1.0, is_exp=True, condition={'kernel': ['rbf', 'poly']}),
                    'degree': IntegerKnob(2, 4, condition={'kernel': ['poly']})},
    'flat': {'x': FloatKnob(-5, 5), 'y': FloatKnob(1e-3, 10, is_exp=True), 'n': IntegerKnob(1, 100)},
}


def measure(space, advisor_type, past_count, rounds=30):
    rng = random.Random(0)
    seed_advisor = make_advisor(space, {}, advisor_type, seed=0)
    past = []
    for no in range(1, past_count + 1):
        p = seed_advisor.propose(no) if advisor_type == 'RANDOM' or no <= 10 else None
        knobs = p.knobs if p else make_advisor(space, {}, 'RANDOM', seed=no).propose(1).knobs
        past.append(PastTrial(no=no, knobs=knobs, status='COMPLETED', score=rng.random(), meta={}))
    advisor = make_advisor(space, {}, advisor_type, seed=0)
    t0 = time.perf_counter()
    advisor.restore(past)
    restore_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for no in range(past_count + 1, past_count + 1 + rounds):
        advisor.propose(no)
        advisor.feedback(no, rng.random(), 'COMPLETED')
    return (time.perf_counter() - t0) / rounds * 1000, restore_s


def main() -> int:
    print(f'{"space":<12}{"advisor":<8}{"past":>6}{"ms/round trip":>15}{"restore s":>11}')
    for space_name, space in SPACES.items():
        for advisor_type in ('RANDOM', 'TPE'):
            for past in (100, 1000):
                ms, restore_s = measure(space, advisor_type, past)
                print(f'{space_name:<12}{advisor_type:<8}{past:>6}{ms:>15.2f}{restore_s:>11.2f}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
