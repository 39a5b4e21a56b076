"""The inference worker predicts the batches waiting for it in one model call and answers each
batch with its own slice, once (the Redis path and the sandboxed child are tested end to end in
test/integration/inference; here the child's per-query fallback runs in-process)."""
import collections
import time

from singa.queues import Batch
from singa.sandbox.child import predict_each
from singa.workers.inference import InferenceWorker


class Channel:
    def __init__(self):
        self.replies = []

    def reply(self, reply_to, message):
        self.replies.append((reply_to, message))


class Model:
    def __init__(self):
        self.calls = []

    def predict(self, queries):
        self.calls.append(list(queries))
        if any(q < 0 for q in queries):
            raise ValueError('negative query')
        return [q * 10 for q in queries]


class Runner:
    """What the worker asks of its ModelRunner, answered the way the sandboxed child does."""

    def __init__(self, model):
        self.model = model

    def predict(self, queries, timeout=None):
        return predict_each(self.model, queries)


def _worker():
    worker = InferenceWorker.__new__(InferenceWorker)
    worker.channel, worker.trial_id, worker.replica_id = Channel(), 't1', 'r1'
    worker.model = Model()
    worker.runner = Runner(worker.model)
    worker.settings = type('S', (), {'predictor_timeout_seconds': 5.0})()
    worker._taken = collections.OrderedDict()
    return worker


def test_waiting_batches_share_one_model_call_and_get_their_own_answers():
    worker = _worker()
    later = time.time() + 5
    worker.serve([Batch('a', [1, 2], 'ra', later), Batch('b', [3], 'rb', later),
                  Batch('c', [4], 'rc', time.time() - 1)])   # expired
    assert worker.model.calls == [[1, 2, 3]]
    assert [(to, m.batch_id, m.predictions, m.errors) for to, m in worker.channel.replies] == [
        ('ra', 'a', [10, 20], {}), ('rb', 'b', [30], {})]


def test_a_bad_query_fails_only_its_own_answer_in_its_own_batch():
    worker = _worker()
    later = time.time() + 5
    worker.serve([Batch('a', [1], 'ra', later), Batch('b', [2, -3], 'rb', later)])
    replies = {m.batch_id: m for _, m in worker.channel.replies}
    assert replies['a'].predictions == [10] and replies['a'].errors == {}
    assert replies['b'].predictions == [20, None] and 'negative' in replies['b'].errors['1']


def test_a_batch_sent_again_is_answered_once():
    worker = _worker()
    later = time.time() + 5
    worker.serve([Batch('a', [1], 'ra', later), Batch('a', [1], 'ra', later)])
    worker.serve([Batch('a', [1], 'ra', later), Batch('b', [2], 'rb', later)])
    assert worker.model.calls == [[1], [2]]
    assert [m.batch_id for _, m in worker.channel.replies] == ['a', 'b']
