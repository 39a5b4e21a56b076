"""What every worker shares: the stop flag and signals, logging, a heartbeat thread, and riding
out an outage of Redis or PostgreSQL (``Outage``).

Shutdown follows RQ: the first SIGTERM (or SIGINT) asks for a warm stop, which the worker's loop
honours between units of work; a second one is a cold stop (``SystemExit`` at once).
A train worker additionally ends the trial under way at once when a stop arrives (it kills the
sandboxed child that runs the template; see ``workers.train``).
"""
import logging
import signal
import threading
import time
from typing import Callable, Optional

from singa import logs
from singa.errors import ServiceUnavailableError

log = logging.getLogger(__name__)


class StopFlag:
    """Set once a stop was requested. ``wait(t)`` sleeps up to ``t`` s but wakes on a stop."""

    def __init__(self):
        self._event = threading.Event()
        self.reason = ''
        self.signals = 0

    def request(self, reason: str = 'stop requested') -> None:
        if not self._event.is_set():
            self.reason = reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


def install_signal_handlers(stop: StopFlag, on_signal: Optional[Callable[[int], None]] = None) -> None:
    """First SIGTERM/SIGINT: warm stop (and ``on_signal``); second: cold stop."""

    def handle(signum, frame):
        stop.signals += 1
        if stop.signals > 1:
            log.warning('second signal %s: stopping now', signum)
            raise SystemExit(128 + signum)
        log.info('signal %s: stopping after the current unit of work', signum)
        stop.request(f'signal {signum}')
        if on_signal is not None:
            on_signal(signum)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def configure_logging(role: str, level: int = logging.INFO, settings=None) -> None:
    """Text until the settings are read; then in their ``log_format`` (see ``singa.logs``)."""
    logs.configure_logging(role, settings, level)


class Ticker(threading.Thread):
    """Calls ``fn`` every ``interval`` s on a daemon thread until ``stop()``; errors are logged, not raised."""

    def __init__(self, interval: float, fn: Callable[[], None], name: str = 'ticker'):
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.fn = fn
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            try:
                self.fn()
            except Exception:  # noqa: BLE001 - a heartbeat must survive one bad round
                log.exception('%s failed', self.name)

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=5)


class Outage:
    """Waits between attempts while a dependency (Redis, PostgreSQL) is unavailable: 0.1 s, 0.2 s,
    ... at most ``cap`` s, waking at once on a stop. Logs when an outage begins and when it ends,
    not every failed attempt, so a worker rides out a restart of either without crashing."""

    def __init__(self, stop: StopFlag, cap: float = 2.0):
        self.stop = stop
        self.cap = cap
        self.since: Optional[float] = None
        self._delay = 0.1

    def wait(self, error: ServiceUnavailableError) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning('%s is unavailable (%s); retrying until it is back', error.resource or 'a dependency',
                        error.message)
        self.stop.wait(self._delay)
        self._delay = min(self._delay * 2, self.cap)

    def over(self) -> Optional[float]:
        """Call after a success: how long the outage that just ended lasted (None if there was none)."""
        if self.since is None:
            return None
        lasted, self.since, self._delay = time.monotonic() - self.since, None, 0.1
        log.info('dependency back after %.1f s', lasted)
        return lasted
