"""What the chaos suite (``test/chaos/``) watches while it kills parts of a platform, in process mode
and on Swarm alike: the results the API acknowledged, prediction requests under load, and how long
each part took to recover. Each suite writes its figures to ``test-artifacts/chaos/<mode>.json``
(the README reports them)."""
import dataclasses
import json
import os
import threading
import time
from typing import Callable, Optional

import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(REPO, 'test', 'chaos', 'templates')


def wait_until(condition: Callable, timeout: float, what: str, interval: float = 0.2):
    """``condition()``'s first truthy value; fails the test naming ``what`` after ``timeout`` s.
    A condition that raises (a part of the platform is down) counts as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - the platform is being killed; asking again is the point
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
            except Exception:  # noqa: BLE001 - the admin or its database may be down right now
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
        self._threads = [threading.Thread(target=self._run, daemon=True, name=f'load-{i}') for i in range(threads)]

    def start(self) -> 'Load':
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def _run(self) -> None:
        with requests.Session() as session:
            session.headers['Authorization'] = f'Bearer {self.key}'
            while not self._stop.is_set():
                started = time.time()
                try:
                    response = session.post(self.url, json={'query': self.query}, timeout=self.timeout)
                    ok, error = response.status_code == 200, '' if response.ok else response.text[:200]
                except requests.RequestException as e:
                    ok, error = False, type(e).__name__
                outcome = Outcome(started, time.time() - started, ok, error)
                with self._lock:
                    self.outcomes.append(outcome)
                if not ok:
                    self._stop.wait(0.05)      # a dead predictor refuses at once: do not spin

    def between(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if start <= o.started < end]

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

    def add(self, component: str, when: str, recovery_seconds: Optional[float], lost: int, note: str = '') -> None:
        self.rows.append({'killed': component, 'when': when,
                          'recovery_seconds': None if recovery_seconds is None else round(recovery_seconds, 1),
                          'lost': lost, 'note': note})

    def save(self, **extra) -> str:
        out = os.path.join(REPO, 'test-artifacts', 'chaos')
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, f'{self.mode}.json')
        with open(path, 'w', encoding='utf-8') as f:
            json.dump({'mode': self.mode, 'kills': self.rows, **extra}, f, indent=2)
        return path
