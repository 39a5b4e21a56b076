"""The chaos suite's scenarios (``test/chaos/``), the same in process mode and on Swarm: only how a
part is killed and brought back differs, and each test passes that in.

``TrainingChaos`` runs a train job with two workers and kills one part at a time in the middle of
a trial; ``ServingChaos`` sends prediction requests from four clients and kills one part at a time
under that load. Both watch what the platform acknowledged (trials the API showed COMPLETED,
requests answered) and time each recovery; ``Figures`` writes the times to
``test-artifacts/chaos/<mode>.json``, which the README reports."""
import csv
import dataclasses
import json
import os
import threading
import time
from typing import Callable, Optional

import requests

from singa.errors import SingaError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(REPO, 'test', 'chaos', 'templates')
TASK = 'TABULAR_CLASSIFICATION'


def equip(client, iris: dict):
    """A model developer's client with what the scenarios need: the iris datasets, a template whose
    trials take 1.5 s (``steady``), a quick decision tree (``tree``) and a query."""
    client.datasets = [client.create_dataset(f'iris-{split}', TASK, iris[split])['id'] for split in ('train', 'val')]
    client.steady = client.create_model('steady', TASK, os.path.join(TEMPLATES, 'steady_tree.py'), 'SteadyTree')['id']
    client.tree = client.create_model('tree', TASK, os.path.join(REPO, 'examples', 'models', 'sk_decision_tree.py'),
                                      'SkDecisionTree')['id']
    with open(iris['test'], encoding='utf-8') as f:
        client.query = {k: float(v) for k, v in next(csv.DictReader(f)).items() if k != 'target'}
    return client


def wait_until(condition: Callable, timeout: float, what: str, interval: float = 0.2):
    """``condition()``'s first truthy value; fails the test naming ``what`` after ``timeout`` s.
    A condition that cannot reach the platform (a part of it is down) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except (SingaError, requests.RequestException, OSError):   # being killed: ask again
            value = None
        if value:
            return value
        assert time.monotonic() < deadline, f'timed out after {timeout:g} s waiting for {what}'
        time.sleep(interval)


class Acknowledged:
    """Every trial the API has shown COMPLETED, as it was shown (score, knobs, parameters saved),
    polled on a thread of its own while parts of the platform are killed (a poll that fails is
    simply repeated)."""

    def __init__(self, client, app: str, interval: float = 0.3):
        self.client, self.app, self.interval = client, app, interval
        self.seen: dict[str, dict] = {}
        self.last: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='acknowledged', daemon=True)

    def start(self) -> 'Acknowledged':
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except (SingaError, requests.RequestException, OSError):   # the admin or its database is down
                pass

    def poll(self) -> list:
        trials = self.client.get_trials_of_train_job(self.app)
        for t in trials:
            if t['status'] == 'COMPLETED' and t['id'] not in self.seen:
                self.seen[t['id']] = _result(t)
        self.last = trials
        return trials

    def completed(self) -> int:
        return len(self.seen)

    def lost(self, final: list) -> list:
        """The acknowledged results that ``final`` (the trials at the end) no longer holds as shown."""
        now = {t['id']: t for t in final}
        return [(trial_id, shown, now.get(trial_id)) for trial_id, shown in self.seen.items()
                if trial_id not in now or _result(now[trial_id]) != shown]


def _result(trial: dict) -> dict:
    return {k: trial[k] for k in ('status', 'score', 'knobs', 'is_params_saved', 'stopped_at')}


@dataclasses.dataclass
class Outcome:
    client: int
    started: float
    seconds: float
    ok: bool
    error: str = ''


class Load:
    """``threads`` clients sending one prediction request after another to a predictor, each
    request's outcome kept (when it started, how long it took, whether it was answered 200)."""

    def __init__(self, url: str, key: str, query, threads: int = 4, timeout: float = 30.0):
        self.url, self.key, self.query, self.timeout = url.rstrip('/') + '/predict', key, query, timeout
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True, name=f'load-{i}')
                         for i in range(threads)]

    def start(self) -> 'Load':
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _run(self, client: int) -> None:
        with requests.Session() as session:
            session.headers['Authorization'] = f'Bearer {self.key}'
            while not self._stop.is_set():
                started = time.time()
                try:
                    response = session.post(self.url, json={'query': self.query}, timeout=self.timeout)
                    ok, error = response.status_code == 200, '' if response.ok else response.text[:200]
                except requests.RequestException as e:
                    ok, error = False, type(e).__name__
                outcome = Outcome(client, started, time.time() - started, ok, error)
                with self._lock:
                    self.outcomes.append(outcome)
                if not ok:
                    self._stop.wait(0.05)      # a dead predictor refuses at once: do not spin

    def between(self, start: float, end: float) -> list[Outcome]:
        """The requests under way at some moment from ``start`` to ``end`` (those in flight at
        ``start`` included: a kill may cost them too)."""
        with self._lock:
            return [o for o in self.outcomes if o.started < end and o.started + o.seconds >= start]

    def settled(self, moment: float) -> bool:
        """Whether every client has sent a request since ``moment``: none sent before is still under way."""
        with self._lock:
            return {o.client for o in self.outcomes if o.started >= moment} == set(range(len(self._threads)))

    def first_success_after(self, moment: float) -> Optional[float]:
        with self._lock:
            times = [o.started + o.seconds for o in self.outcomes if o.ok and o.started >= moment]
        return min(times) if times else None

    def wait_for_answers(self, after: float, count: int = 5, timeout: float = 60.0) -> float:
        """When the ``count``-th request started after ``after`` was answered (they keep coming)."""
        def answered():
            with self._lock:
                done = sorted(o.started + o.seconds for o in self.outcomes if o.ok and o.started >= after)
            return done[count - 1] if len(done) >= count else None
        return wait_until(answered, timeout, f'{count} answered requests')


class Figures:
    """What was killed, when, how long until it recovered, and what was lost."""

    def __init__(self, mode: str):
        self.mode = mode
        self.rows: list[dict] = []
        self.serving: dict = {}

    def add(self, component: str, when: str, recovery_seconds: float, note: str, failed_requests: int = None) -> None:
        """A kill: ``failed_requests`` under serving load; mid-training nothing acknowledged was lost
        (the scenario asserts it)."""
        self.rows.append({'killed': component, 'when': when, 'recovery_seconds': round(recovery_seconds, 1),
                          'failed_requests': failed_requests, 'note': note})

    def add_serving(self, requests: int, slowest_seconds: float) -> None:
        self.serving = {'requests': requests, 'slowest_seconds': round(slowest_seconds, 2)}

    def save(self, **extra) -> str:
        out = os.path.join(REPO, 'test-artifacts', 'chaos')
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f'{self.mode}.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump({'mode': self.mode, 'kills': self.rows, 'serving': self.serving, **extra}, f, indent=2)
        return path


class TrainingChaos:
    """A train job of ``trials`` trials on two workers, killed part by part mid-trial."""

    def __init__(self, client, app: str, figures: Figures, timeout: float = 120.0):
        self.client, self.app, self.figures, self.timeout = client, app, figures, timeout

    def start(self, trials: int) -> 'TrainingChaos':
        """A job of ``trials`` trials of the client's ``steady`` template (see ``equip``)."""
        self.trials = trials
        self.client.create_train_job(self.app, TASK, *self.client.datasets, models=[self.client.steady],
                                     budget={'MODEL_TRIAL_COUNT': trials, 'WORKERS_PER_MODEL': 2, 'TIME_HOURS': 0.5})
        self.job_id = self.client.get_train_job(self.app)['id']
        self.acknowledged = Acknowledged(self.client, self.app).start()
        return self

    def mid_trial(self) -> list:
        """Once one more trial completed since the last kill and both workers run one: those two."""
        done = self.acknowledged.completed()

        def ready():
            running = [t for t in self.acknowledged.poll() if t['status'] == 'RUNNING']
            assert self.acknowledged.completed() < self.trials, 'the job ran out of trials before the next kill'
            return running if self.acknowledged.completed() > done and len(running) == 2 else None
        return wait_until(ready, self.timeout, 'a completion and two running trials')

    def status_of(self, trial_id: str) -> str:
        return next(t['status'] for t in self.acknowledged.poll() if t['id'] == trial_id)

    def _next_completion(self, after: int) -> float:
        wait_until(lambda: self.acknowledged.completed() > after, self.timeout, 'a trial to complete')
        return time.monotonic()

    def kill_worker(self, kill: Callable[[dict], None]) -> None:
        """``kill(trial)`` kills the worker running ``trial``: it is released (and retried) as soon
        as the container manager reports the worker gone, long before its lease would expire."""
        trial = self.mid_trial()[0]
        killed = time.monotonic()
        kill(trial)
        wait_until(lambda: self.status_of(trial['id']) == 'ERRORED', self.timeout, 'the lost trial to be released')
        self.figures.add('a train worker', 'mid-trial', time.monotonic() - killed, 'until its trial was released')

    def kill_advisor(self, kill: Callable[[], None]) -> None:
        """It is restarted and resumes the study from the database."""
        self.mid_trial()
        done, killed = self.acknowledged.completed(), time.monotonic()
        kill()
        self.figures.add('the advisor', 'mid-trial', self._next_completion(done) - killed,
                         'until the next trial completed')

    def kill_admin(self, kill: Callable[[], None], bring_back: Callable[[], None]) -> None:
        """Training goes on without it; ``bring_back`` returns once it answers ``GET /health``."""
        self.mid_trial()
        killed = time.monotonic()
        kill()
        bring_back()
        self.figures.add('the admin', 'mid-trial', time.monotonic() - killed, 'until GET /health answered')

    def kill_store(self, name: str, kill: Callable[[], None], bring_back: Callable[[], None]) -> None:
        """Redis or PostgreSQL: the trials running through its restart complete."""
        running = {t['id'] for t in self.mid_trial()}
        done, killed = self.acknowledged.completed(), time.monotonic()
        kill()
        bring_back()
        self.figures.add(name, 'mid-trial', self._next_completion(done) - killed, 'until the next trial completed')
        wait_until(lambda: all(self.status_of(t) != 'RUNNING' for t in running), self.timeout,
                   'the running trials to end')
        assert {self.status_of(t) for t in running} == {'COMPLETED'}, f'trials running through a kill of {name}'

    def finish(self, lost_to_workers: int) -> None:
        """Nothing acknowledged was lost and exactly ``trials`` trials completed; the
        ``lost_to_workers`` trials lost with their workers were run again."""
        job = self.client.wait_until_train_job_has_stopped(self.app, timeout=300, interval=1, progress=False)
        self.acknowledged.stop()
        final = self.client.get_trials_of_train_job(self.app)
        assert self.acknowledged.lost(final) == []
        assert job['status'] == 'STOPPED' and job['trials_completed'] == self.trials, job
        assert len([t for t in final if t['status'] == 'COMPLETED']) == self.trials
        retried = {t['retry_of'] for t in final if t['retry_of']}
        lost = [t for t in final if t['status'] != 'COMPLETED']
        assert len(lost) == lost_to_workers and all(t['status'] == 'ERRORED' and t['id'] in retried for t in lost), lost
        for trial_id in self.acknowledged.seen:
            assert self.client.get_trial_parameters(trial_id)


def deploy_twice(client, app: str) -> dict:
    """Train a decision tree quickly and deploy its best trial as two replicas: the running job."""
    client.create_train_job(app, TASK, *client.datasets, models=[client.tree], budget={'MODEL_TRIAL_COUNT': 2})
    client.wait_until_train_job_has_stopped(app, timeout=180, interval=1, progress=False)
    client.create_inference_job(app, replicas=2)
    return client.wait_until_inference_job_is_running(app, timeout=180)


class ServingChaos:
    """Prediction requests from four clients to a job's predictor while parts are killed one by one;
    ``deadline``: the predictor's (no request may outlive it by more than 1 s, whatever is killed)."""

    def __init__(self, client, job: dict, figures: Figures, deadline: float):
        self.figures, self.deadline = figures, deadline
        key = client.create_prediction_key(job['app'], job['app_version'])['key']
        self.load = Load(job['predictor_url'], key, client.query).start()
        self.load.wait_for_answers(time.time(), count=20)

    def kill_redundant(self, name: str, kill: Callable[[], None], replaced: Callable[[], bool]) -> None:
        """A part with a live twin (a replica): not one request fails, before or after ``replaced()``."""
        self._survive(name, kill, lambda: wait_until(replaced, 90, f'{name} to be replaced'),
                      'until its replacement started; its twin answered meanwhile')

    def kill_unneeded(self, name: str, kill: Callable[[], None], bring_back: Callable[[], None]) -> None:
        """A part serving does not use (the admin, PostgreSQL): not one request fails."""
        self._survive(name, kill, bring_back, 'until it was back; serving went on without it')

    def _survive(self, name: str, kill: Callable[[], None], back: Callable[[], None], what: str) -> None:
        killed = time.time()
        kill()
        back()
        came_back = time.time()
        self.load.wait_for_answers(came_back + 1, count=20)
        failed = self._note(name, killed, came_back, what)
        assert failed == [], failed[:3]

    def kill_needed(self, name: str, kill: Callable[[], None], bring_back: Callable[[], None]) -> None:
        """A part without a twin (the predictor, Redis): requests fail until it is back, none hangs.
        Its recovery: from the kill to the first answer after the last failure."""
        killed = time.time()
        kill()
        dead = time.time()          # requests sent before may still be answered (a loaded kill is slow)
        bring_back()
        self.load.wait_for_answers(dead, count=20, timeout=120)

        def recovered():            # the first answer after the last failure (there may be more)
            failures = [o.started for o in self.load.between(killed, time.time()) if not o.ok]
            return self.load.first_success_after(max(failures, default=dead))
        back = wait_until(recovered, 120, f'requests to be answered again after {name} was killed')
        self._note(name, killed, back, 'until requests were answered again')

    def _note(self, name: str, killed: float, back: float, what: str) -> list:
        now = time.time()
        wait_until(lambda: self.load.settled(now), self.deadline + 5, 'the requests under way to end')
        window = self.load.between(killed, now)
        failed = [o for o in window if not o.ok]
        self.figures.add(name, 'under load', back - killed,
                         f'{what}; {len(window)} requests, the slowest {max(o.seconds for o in window):.2f} s',
                         failed_requests=len(failed))
        return failed

    def finish(self) -> None:
        self.load.stop()
        slowest = max(o.seconds for o in self.load.outcomes)
        self.figures.add_serving(requests=len(self.load.outcomes), slowest_seconds=slowest)
        assert slowest <= self.deadline + 1.0, slowest
