"""The predictor's batcher and app against the session's Redis, with the replicas of each trial
played by threads that speak the serving protocol through the real ``ServingChannel`` (heartbeats,
blocking pops, replies); the whole path with real worker processes is in test_inference_jobs.py.
Batching, deadlines, per-request answers, re-dispatch past a replica's deadline, and loops that
survive whatever a batch or a reply does."""
import concurrent.futures
import ctypes
import dataclasses
import json
import threading
import time
import uuid

import pytest

from singa.container.base import wait_until
from singa.errors import InvalidRequestError, ServiceUnavailableError, SingaError
from singa.queues import Reply, ServedTrial, ServingChannel, ServingConfig, make_redis
from singa.workers.predictor.app import Watchdog, create_app
from singa.workers.predictor.batcher import Batcher


class Replica(threading.Thread):
    """A replica of ``trial_id``: answers each query with ``model(query)`` (a ValueError becomes
    that query's error) after ``delay`` s. ``die_on_take``: it takes one batch, then stops without
    answering and without renewing its heartbeat, as a worker killed mid-batch does."""

    TTL = 1.0

    def __init__(self, settings, job_id, trial_id, model, delay=0.0, die_on_take=False):
        super().__init__(daemon=True)
        self.channel = ServingChannel(make_redis(settings), job_id)
        self.trial_id, self.model, self.delay, self.die_on_take = trial_id, model, delay, die_on_take
        self.replica_id = uuid.uuid4().hex[:8]
        self.taken: list = []
        self.replied = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.channel.heartbeat(self.trial_id, self.replica_id, self.TTL)
            batch = self.channel.next_batch(self.trial_id, timeout=0.1)
            if batch is None:
                continue
            self.taken.append(batch.batch_id)
            if self.die_on_take:
                return
            self.stopped.wait(self.delay)
            predictions, errors = [], {}
            for i, query in enumerate(batch.queries):
                try:
                    predictions.append(self.model(query))
                except ValueError as e:
                    predictions.append(None)
                    errors[str(i)] = str(e)
            self.channel.reply(batch.reply_to, Reply(batch.batch_id, self.trial_id, self.replica_id,
                                                     predictions, errors))
            self.replied += 1

    def stop(self):
        self.stopped.set()
        self.join(5)
        self.channel.leave(self.trial_id, self.replica_id)
        self.channel.r.close()


class Serving:
    """One inference job's serving keys in the session's Redis: ``start`` publishes its config,
    starts the replicas (``{trial: [Replica keyword arguments, ...]}``) and a batcher."""

    def __init__(self, settings):
        self.settings = settings
        self.job_id = uuid.uuid4().hex
        self.channel = ServingChannel(make_redis(settings), self.job_id)
        self.started = []

    def start(self, trials, replicas, task='TABULAR_REGRESSION', **batcher_kwargs):
        config = ServingConfig(tuple(ServedTrial(t, t, 1.0, len(replicas[t])) for t in trials), task=task,
                               is_public=True)
        self.channel.publish(config, {}, [])
        workers = {t: [Replica(self.settings, self.job_id, t, **spec) for spec in replicas[t]] for t in replicas}
        for replica in (r for rs in workers.values() for r in rs):
            replica.start()
            self.started.append(replica)
        assert wait_until(lambda: self.channel.live_trials(trials) == {t for t in trials if replicas[t]}, 5)
        batcher = Batcher(self.channel, config, **batcher_kwargs).start()
        self.started.append(batcher)
        return batcher, workers

    def app(self, **settings):
        """The predictor's real app for this job, in process (the watchdog never stops the process)."""
        app = create_app(dataclasses.replace(self.settings, job_id=self.job_id, service_id='predictor-1', **settings),
                         restart_after=None)
        self.started += [app.extensions['singa_watchdog'], app.extensions['singa_predictor']]
        return app

    def close(self):
        for thing in self.started:
            thing.stop()
        self.channel.cleanup()


@pytest.fixture
def serving(settings):
    serving = Serving(settings)
    yield serving
    serving.close()


def _timed(batcher, queries):
    started = time.monotonic()
    answer = batcher.submit(queries)
    return answer, time.monotonic() - started


def test_concurrent_requests_share_batches_and_get_their_own_answers(serving):
    replicas = {'a': [dict(model=lambda q: q * 2, delay=0.02)], 'b': [dict(model=lambda q: q * 4, delay=0.02)]}
    batcher, workers = serving.start(['a', 'b'], replicas, max_batch_size=64, max_wait=0.01, max_inflight=1)
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = dict(zip(range(32), pool.map(lambda i: batcher.submit([i])['predictions'][0], range(32))))
    assert results == {i: pytest.approx(i * 3) for i in range(32)}
    assert len(workers['a'][0].taken) < 32 / 2   # batched: far fewer batches than requests


def test_a_lone_request_is_not_held_back(serving):
    batcher, _ = serving.start(['a'], {'a': [dict(model=lambda q: q)]}, max_wait=1.0)
    answer, took = _timed(batcher, [1])
    assert answer['predictions'] == [1] and took < 0.5


def test_a_slow_model_misses_the_deadline_and_costs_its_vote(serving):
    replicas = {'a': [dict(model=lambda q: 1.0)], 'b': [dict(model=lambda q: 3.0, delay=3)]}
    batcher, _ = serving.start(['a', 'b'], replicas, timeout=0.6, replica_timeout=0.3)
    answer, took = _timed(batcher, [0])
    assert answer['predictions'] == [1.0] and [m['answered'] for m in answer['models']] == [True, False]
    assert 0.6 <= took < 1.0


def test_no_live_model_fails_at_once_with_503(serving):
    batcher, _ = serving.start(['a'], {'a': []}, timeout=5)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError, match='no model'):
        batcher.submit([0])
    assert time.monotonic() - started < 1


def test_queries_no_model_can_answer_are_a_400_the_rest_are_answered(serving):
    def picky(q):
        if q < 0:
            raise ValueError('negative')
        return q

    batcher, _ = serving.start(['a'], {'a': [dict(model=picky)]})
    answer = batcher.submit([1, -1, 2])
    assert answer['predictions'] == [1, None, 2] and 'negative' in answer['errors']['1'][0]
    with pytest.raises(InvalidRequestError, match='negative'):
        batcher.submit([-5])


def test_a_batch_taken_by_a_replica_that_dies_goes_to_another_replica(serving):
    """A replica takes a batch and dies: the batch goes to the trial's other replica after the
    replica timeout, not after the request deadline, and every request is answered."""
    replicas = {'a': [dict(model=lambda q: q, die_on_take=True), dict(model=lambda q: q, delay=0.05)]}
    batcher, workers = serving.start(['a'], replicas, timeout=5.0, replica_timeout=0.5, max_batch_size=1,
                                     max_inflight=4)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: _timed(batcher, [i]), range(16)))
    assert [answer['predictions'] for answer, _ in results] == [[i] for i in range(16)]
    dead, alive = workers['a']
    assert len(dead.taken) == 1 and dead.taken[0] in alive.taken
    assert max(took for _, took in results) < 0.5 + 1.0


def test_a_batch_that_waits_in_the_queue_is_not_sent_twice(serving):
    """Batches queue behind busy replicas for longer than the replica timeout; none is taken twice."""
    replicas = {'a': [dict(model=lambda q: q, delay=0.1), dict(model=lambda q: q, delay=0.1)]}
    batcher, workers = serving.start(['a'], replicas, timeout=5.0, replica_timeout=0.4, max_batch_size=1,
                                     max_inflight=12)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda i: _timed(batcher, [i]), range(12)))
    assert [answer['predictions'] for answer, _ in results] == [[i] for i in range(12)]
    assert max(took for _, took in results) > 0.4 + 0.1             # some waited past the replica timeout
    taken = workers['a'][0].taken + workers['a'][1].taken
    assert len(taken) == len(set(taken)) == 12


def test_a_slow_replica_is_overtaken_and_its_late_reply_dropped(serving):
    """One replica answers in 1.5 s: the batch it takes goes to the other after the replica timeout,
    its late reply is dropped, and no request waits for it."""
    replicas = {'a': [dict(model=lambda q: 'slow', delay=1.5), dict(model=lambda q: 'fast')]}
    batcher, workers = serving.start(['a'], replicas, timeout=5.0, replica_timeout=0.3, max_batch_size=1)
    slow = workers['a'][0]
    results = [_timed(batcher, [i]) for i in range(3)]     # the slow one waits in its pop: it takes one
    assert len(slow.taken) == 1
    assert [answer['predictions'] for answer, _ in results] == [['fast']] * 3
    assert max(took for _, took in results) < 0.3 + 0.5
    assert wait_until(lambda: slow.replied == 1, 3)                # its late reply: dropped
    assert [_timed(batcher, [i])[0]['predictions'] for i in range(3)] == [['fast']] * 3
    assert batcher.health() == {'dispatcher': 'ok', 'listener': 'ok'}


def test_a_model_whose_replicas_all_died_costs_its_vote_before_the_deadline(serving):
    replicas = {'a': [dict(model=lambda q: 1.0)], 'b': [dict(model=lambda q: 3.0, die_on_take=True)]}
    batcher, _ = serving.start(['a', 'b'], replicas, timeout=8.0, replica_timeout=0.5)
    answer, took = _timed(batcher, [0])
    assert answer['predictions'] == [1.0] and [m['answered'] for m in answer['models']] == [True, False]
    assert took < Replica.TTL + 0.5 + 1.0


def test_a_poisoned_batch_fails_its_requests_and_the_loops_go_on(serving, settings):
    """Whatever a batch holds or a reply says, the loops go on: a batch that cannot be encoded fails
    its request (500, not a hang), malformed replies are dropped, and later requests are answered."""
    batcher, _ = serving.start(['a'], {'a': [dict(model=lambda q: q)]}, timeout=3.0)
    started = time.monotonic()
    with pytest.raises(SingaError, match='failed sending a batch') as failed:
        batcher.submit([float('nan')])
    assert type(failed.value) is SingaError and time.monotonic() - started < 1
    r = make_redis(settings)
    reply_to = batcher.channel.replies(batcher.predictor_id)
    for garbage in (b'\xff not json', b'[1]', json.dumps({'batch_id': 1, 'trial_id': 'a'}).encode(),
                    json.dumps({'batch_id': 'x', 'trial_id': 'a', 'replica_id': 'r', 'predictions': 'no',
                                'errors': {}}).encode()):
        r.lpush(reply_to, garbage)
    for i in range(3):
        assert batcher.submit([i])['predictions'] == [i]
    assert batcher.health() == {'dispatcher': 'ok', 'listener': 'ok'}


def _kill_thread(thread: threading.Thread) -> None:
    """Raise SystemExit inside ``thread`` (no loop catches it: the thread ends, as on a bug that escapes)."""
    assert ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)) == 1


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')   # the killed thread
def test_ready_and_health_say_503_when_the_dispatcher_is_dead(serving):
    """The real app in process: /ready and /health turn 503 naming the dead loop, and the watchdog
    stops renewing the predictor's heartbeat (what the admin reads) and asks for a restart."""
    serving.start(['a'], {'a': [dict(model=lambda q: q)]})
    app = serving.app()
    client, batcher = app.test_client(), app.extensions['singa_predictor']
    assert client.get('/ready').status_code == 200 and client.get('/health').status_code == 200
    assert client.post('/predict', json={'query': 2}).get_json()['prediction'] == 2
    assert serving.channel.live_predictors() == 1
    _kill_thread(next(t for t in batcher._threads if t.name == 'dispatcher'))
    assert wait_until(lambda: batcher.health()['dispatcher'] == 'dead', 5)
    ready = client.get('/ready')
    assert ready.status_code == 503 and ready.get_json()['loops'] == {'dispatcher': 'dead', 'listener': 'ok'}
    health = client.get('/health')
    assert health.status_code == 503 and health.get_json()['status'] == 'failing'
    assert wait_until(lambda: serving.channel.live_predictors() == 0, 5)
    restarts = []
    watchdog = Watchdog(batcher, serving.channel, restart_after=0.2, stop_process=lambda: restarts.append(1))
    assert wait_until(lambda: watchdog.check() or restarts, 2) and restarts == [1]


def test_a_loop_blocked_on_redis_is_reported_stuck_and_recovers(serving, settings):
    batcher, _ = serving.start(['a'], {'a': [dict(model=lambda q: q)]}, stuck_after=1.5)
    make_redis(settings).client_pause(3000)           # Redis answers nobody for 3 s
    assert wait_until(lambda: batcher.health()['listener'].startswith('stuck for'), 3)
    assert batcher.health()['dispatcher'] == 'ok'
    assert wait_until(lambda: batcher.health() == {'dispatcher': 'ok', 'listener': 'ok'}, 5)
    assert batcher.submit([7])['predictions'] == [7]


def test_bodies_are_refused_with_400s_that_say_why(serving):
    serving.start(['a'], {'a': [dict(model=lambda q: 0)]})
    app = serving.app(predictor_max_body_bytes=4096, predictor_max_queries=10, predictor_max_depth=3)
    client = app.test_client()
    for body, message in ((b'{"query": NaN}', 'NaN is not a JSON number'),
                          (b'{"queries": [1, Infinity]}', 'Infinity is not a JSON number'),
                          (b'{"query": {"x": -Infinity}}', '-Infinity is not a JSON number'),
                          (b'{"query": [1e999]}', 'too large for a double'),
                          (b'{"query": [[[[1]]]]}', 'at most 3 levels'),
                          (b'{"queries": [[[[[1]]]]]}', 'at most 3 levels'),
                          (b'[' * 2000 + b']' * 2000, 'at most 3 levels'),
                          (b'{"queries": [' + b','.join([b'1'] * 11) + b']}', 'at most 10 queries'),
                          (b'{"query": "\xff"}', 'UTF-8'),
                          (b'{"query": 1', 'send a JSON object')):
        response = client.post('/predict', data=body, content_type='application/json')
        assert response.status_code == 400, (body[:30], response.get_data())
        assert message in response.get_json()['error']['message']
    big = client.post('/predict', data=b'{"query": "' + b'x' * 5000 + b'"}', content_type='application/json')
    assert big.status_code == 413 and '4096 bytes' in big.get_json()['error']['message']
    # the edge refused them all: nothing reached the batcher, and good queries are answered
    assert client.post('/predict', json={'query': [[[1]]]}).get_json()['prediction'] == 0
    assert client.post('/predict', json={'query': '[[[[[[ in a string'}).status_code == 200
    assert app.extensions['singa_predictor'].health() == {'dispatcher': 'ok', 'listener': 'ok'}
    assert client.get('/openapi.json').get_json()['paths']['/predict']['post']['requestBody']['content'][
        'application/json']['schema']['properties']['queries']['maxItems'] == 10
