"""Sandbox benchmarks (not a test): prints a table and saves JSON under bench-results/.

    python scripts/bench_sandbox.py [--rounds N]

start-up  time from starting a child that will run model code to its first answer (``ping``):
          in a bubblewrap sandbox (namespaces, the sandbox user, a cgroup when root) against the
          same child as a plain process, measured in the same run. Their difference is what the
          sandbox costs each worker when it starts (and each trial whose child had to be replaced).
check     a whole template check (start, load a small template, report its knob config) in the
          sandbox against the same check in a plain child: the cost per upload.

Medians and 90th percentiles over ``--rounds`` rounds (the two kinds alternate, so load on this
noisy machine hits both alike).
"""
import argparse
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench_train import save_results  # noqa: E402

TEMPLATE = b'''
from singa.model import BaseModel, CategoricalKnob, FloatKnob

class Small(BaseModel):
    @staticmethod
    def get_knob_config():
        return {"kind": CategoricalKnob(["a", "b"]), "lr": FloatKnob(1e-4, 1e-1, is_exp=True)}
    def train(self, dataset_path, shared_params=None, **kw): pass
    def evaluate(self, dataset_path): return 1.0
    def predict(self, queries): return [0 for _ in queries]
    def dump_parameters(self): return {}
    def load_parameters(self, params): pass
'''


def start_up(sandbox) -> float:
    from singa.sandbox import ModelRunner, SandboxLimits
    runner = ModelRunner(sandbox, SandboxLimits(), on_output=lambda line: None)
    started = time.perf_counter()
    answer, _ = runner.call({'op': 'ping'})
    elapsed = time.perf_counter() - started
    assert answer.get('ok'), answer
    runner.close()
    return elapsed


def check(sandbox) -> float:
    from singa.model.inspect import RunnerCheck, check_model_template
    started = time.perf_counter()
    check_model_template(TEMPLATE, 'Small', sandbox=RunnerCheck(sandbox))
    return time.perf_counter() - started


def summary(samples: list) -> dict:
    ordered = sorted(samples)
    return {'median_ms': 1000 * statistics.median(ordered),
            'p90_ms': 1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 'n': len(ordered)}


def main() -> None:
    from singa.sandbox import bubblewrap_works
    from singa.sandbox.bubblewrap import BubblewrapSandbox
    from singa.sandbox.container import UnsandboxedProcess
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=20)
    args = parser.parse_args()
    if not bubblewrap_works():
        raise SystemExit('bubblewrap cannot make a sandbox here: apt-get install -y bubblewrap')
    kinds = {'bubblewrap': BubblewrapSandbox(), 'plain process': UnsandboxedProcess()}
    results = {}
    for name, measure in (('start-up', start_up), ('check', check)):
        samples = {kind: [] for kind in kinds}
        measure(kinds['plain process'])                  # warm the page cache once
        for _ in range(args.rounds):
            for kind, sandbox in kinds.items():
                samples[kind].append(measure(sandbox))
        results[name] = {kind: summary(values) for kind, values in samples.items()}
        results[name]['sandbox_cost_ms'] = (results[name]['bubblewrap']['median_ms']
                                            - results[name]['plain process']['median_ms'])
    print(f'\nSandbox cost (medians and p90 over {args.rounds} rounds; as uid {os.geteuid()})')
    print(f'{"":10} {"kind":14} {"median ms":>10} {"p90 ms":>10}')
    for name in ('start-up', 'check'):
        for kind in kinds:
            row = results[name][kind]
            print(f'{name:10} {kind:14} {row["median_ms"]:10.1f} {row["p90_ms"]:10.1f}')
        print(f'{name:10} {"sandbox cost":14} {results[name]["sandbox_cost_ms"]:10.1f}')
    save_results('sandbox', results)


if __name__ == '__main__':
    main()
