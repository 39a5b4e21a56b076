"""How long the train worker spends timing a trained model's ``predict`` (``measure_latency``):
never more than a tenth of a short trial's time beyond five queries, twenty for a long one."""
import time

from singa.sandbox.child import LATENCY_MIN_QUERIES, LATENCY_QUERIES, measure_latency


class SlowPredict:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.calls = 0

    def predict(self, queries):
        self.calls += 1
        time.sleep(self.seconds)
        return [0.0 for _ in queries]


def _val_csv(tmp_path, rows: int = 40) -> str:
    path = tmp_path / 'val.csv'
    path.write_text('a,b,target\n' + ''.join(f'{i},{i * 2},{i % 2}\n' for i in range(rows)))
    return str(path)


def test_a_short_trial_gets_the_least_queries_timed(tmp_path):
    model = SlowPredict(0.02)
    latency = measure_latency(model, 'TABULAR_CLASSIFICATION', _val_csv(tmp_path), {}, trial_seconds=0.1)
    assert model.calls == 1 + LATENCY_MIN_QUERIES          # a warm-up, then the least: 10 ms of 0.1 s is spent
    assert latency >= 20


def test_a_long_trial_gets_every_query_timed(tmp_path):
    model = SlowPredict(0.002)
    latency = measure_latency(model, 'TABULAR_CLASSIFICATION', _val_csv(tmp_path), {}, trial_seconds=60)
    assert model.calls == 1 + LATENCY_QUERIES
    assert latency >= 2
