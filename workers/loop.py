"""What every worker shares: the stop flag and signals, logging, a heartbeat thread.

Shutdown follows RQ: the first SIGTERM (or SIGINT) asks for a warm stop, which the worker's loop
honours between units of work; a second one is a cold stop (``SystemExit`` at once).
A train worker additionally ends the trial under way at once when a stop arrives (it kills the
sandboxed child that runs the template; see ``workers.train``).
"""
import logging
import signal
import threading
from typing import Callable, Optional

from singa import logs

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
