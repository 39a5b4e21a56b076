"""The predictor's batcher against an in-memory stand-in for its Redis channel (the real path is
tested end to end in test/integration/inference): batching, deadlines, and per-request answers."""
import threading
import time

import pytest

from singa.errors import InvalidRequestError, ServiceUnavailableError
from singa.workers.predictor.batcher import Batcher


class FakeChannel:
    """Answers each batch from ``models`` (trial id -> function of a query) after ``delay`` s."""

    def __init__(self, models: dict, delay: float = 0.05, dead=()):
        self.models, self.delay, self.dead = models, delay, set(dead)
        self.batches = []
        self.replies_list = []
        self.cond = threading.Condition()

    def replies(self, predictor_id):
        return f'r:{predictor_id}'

    def live_trials(self, trial_ids):
        return {t for t in trial_ids if t not in self.dead}

    def send_batch(self, trial_ids, batch):
        self.batches.append(batch)
        for trial_id in trial_ids:
            threading.Timer(self.delay, self._answer, (trial_id, batch)).start()

    def _answer(self, trial_id, batch):
        predictions, errors = [], {}
        for i, q in enumerate(batch['queries']):
            try:
                predictions.append(self.models[trial_id](q))
            except ValueError as e:
                predictions.append(None)
                errors[str(i)] = str(e)
        with self.cond:
            self.replies_list.append({'batch_id': batch['batch_id'], 'trial_id': trial_id,
                                      'predictions': predictions, 'errors': errors})
            self.cond.notify_all()

    def receive_replies(self, predictor_id, timeout):
        with self.cond:
            if not self.replies_list:
                self.cond.wait(timeout)
            return self.replies_list.pop(0) if self.replies_list else None


def _channel(**kwargs):
    return FakeChannel(**kwargs)


def _config(*trials, task='TABULAR_REGRESSION'):
    return {'trials': [{'trial_id': t, 'model_name': t, 'score': 1.0} for t in trials], 'task': task}


def test_concurrent_requests_share_batches_and_get_their_own_answers():
    channel = _channel(models={'a': lambda q: q * 2, 'b': lambda q: q * 4})
    batcher = Batcher(channel, _config('a', 'b'), max_batch_size=64, max_wait=0.01, max_inflight=1).start()
    results = {}

    def ask(i):
        results[i] = batcher.submit([i])['predictions'][0]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.stop()
    assert results == {i: pytest.approx(i * 3) for i in range(32)}
    assert len(channel.batches) < 32 / 2   # batched: far fewer batches than requests


def test_a_lone_request_is_not_held_back():
    channel = _channel(models={'a': lambda q: q}, delay=0.0)
    batcher = Batcher(channel, _config('a'), max_wait=1.0).start()
    started = time.monotonic()
    assert batcher.submit([1])['predictions'] == [1]
    assert time.monotonic() - started < 0.5
    batcher.stop()


def test_a_dead_model_is_skipped_and_a_slow_one_misses_the_deadline():
    channel = _channel(models={'a': lambda q: 1.0, 'b': lambda q: 3.0}, dead={'b'})
    batcher = Batcher(channel, _config('a', 'b'), timeout=0.5).start()
    answer = batcher.submit([0])
    assert answer['predictions'] == [1.0]
    assert [m['answered'] for m in answer['models']] == [True, False]
    batcher.stop()
    slow = _channel(models={'a': lambda q: 1.0}, delay=2.0)
    batcher = Batcher(slow, _config('a'), timeout=0.3).start()
    with pytest.raises(ServiceUnavailableError):
        batcher.submit([0])
    batcher.stop()


def test_no_live_model_fails_at_once_with_503():
    channel = _channel(models={'a': lambda q: 1.0}, dead={'a'})
    batcher = Batcher(channel, _config('a'), timeout=5).start()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError):
        batcher.submit([0])
    assert time.monotonic() - started < 1
    batcher.stop()


def test_queries_no_model_can_answer_are_a_400_the_rest_are_answered():
    def picky(q):
        if q < 0:
            raise ValueError('negative')
        return q

    channel = _channel(models={'a': picky})
    batcher = Batcher(channel, _config('a')).start()
    answer = batcher.submit([1, -1, 2])
    assert answer['predictions'] == [1, None, 2] and 'negative' in answer['errors']['1'][0]
    with pytest.raises(InvalidRequestError, match='negative'):
        batcher.submit([-5])
    batcher.stop()
