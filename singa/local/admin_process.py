"""The admin of the local stack: gunicorn serving ``settings.admin_app``, detached, in ``<root>``.

``<root>/process.json`` names the gunicorn master (pid, start time, host, port) and its output
goes to ``log_path`` (default ``<root>/admin.log``; ``singa up`` keeps it on the shared storage). The master leads a session of its own, so stopping it can
signal its whole process group (the workers included) and nothing outlives ``stop()``.
"""
import contextlib
import os
import signal
import subprocess
import sys
import time
from typing import Optional

import requests

from singa.container.process_files import (ProcessRef, owned_group, read_json, signal_group, tail,
                                           write_json_atomic)
from singa.errors import ConfigError

STOP_TIMEOUT = 15.0


class AdminProcess:
    def __init__(self, root: str, log_path: Optional[str] = None):
        self.root = os.path.abspath(root)
        self.record_path = os.path.join(self.root, 'process.json')
        self.log_path = os.path.abspath(log_path or os.path.join(self.root, 'admin.log'))

    # -- what runs -----------------------------------------------------------------------------
    def record(self) -> dict:
        return read_json(self.record_path) or {}

    def running(self) -> Optional[ProcessRef]:
        """The gunicorn master if it still runs (a reused pid is not mistaken for it)."""
        ref = ProcessRef.from_dict(self.record())
        return ref if ref is not None and ref.alive() else None

    def local_url(self) -> str:
        """Where this machine reaches the running admin."""
        record = self.record()
        return f"http://{reachable_host(record.get('host', '127.0.0.1'))}:{record.get('port')}"

    def healthy(self, timeout: float = 2.0) -> bool:
        if not self.record():
            return False
        try:
            return requests.get(f'{self.local_url()}/health', timeout=timeout).ok
        except requests.RequestException:
            return False

    # -- starting and stopping -----------------------------------------------------------------
    def start(self, settings, env: dict) -> ProcessRef:
        """Start gunicorn unless it runs already, then wait until ``GET /health`` answers."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        ref = self.running()
        if ref is None:
            command = [sys.executable, '-m', 'gunicorn',
                       '--bind', f'{settings.admin_host}:{settings.admin_port}',
                       '--worker-class', 'gthread', '--workers', str(settings.admin_workers),
                       '--threads', str(settings.admin_threads), '--graceful-timeout', '10',
                       '--timeout', '120', '--no-control-socket', '--name', 'singa-admin',
                       '--logger-class', 'singa.logs.GunicornLogger', settings.admin_app]
            with open(self.log_path, 'ab') as log:
                log.write(f'--- singa up: starting the admin at {time.strftime("%Y-%m-%d %H:%M:%S")} ---\n'.encode())
                log.flush()
                popen = subprocess.Popen(command, env=env, cwd=self.root, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         close_fds=True)
            ref = ProcessRef.of(popen.pid) or ProcessRef(popen.pid, -1)
            write_json_atomic(self.record_path, dict(ref.to_dict(), host=settings.admin_host,
                                                     port=settings.admin_port))
        self._wait_healthy(ref, settings.admin_start_timeout)
        return ref

    def _wait_healthy(self, ref: ProcessRef, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.healthy(timeout=1.0):
            if not ref.alive():
                raise ConfigError(f'the admin exited while starting; end of {self.log_path}:\n'
                                  f'{tail(self.log_path)}')
            if time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f'the admin did not answer GET /health within {timeout:.0f}s '
                                  f'(SINGA_ADMIN_START_TIMEOUT); end of {self.log_path}:\n'
                                  f'{tail(self.log_path)}')
            time.sleep(0.2)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the master (gunicorn stops its workers gracefully), SIGKILL the group if it is
        still there after ``timeout``. Safe to call when nothing runs."""
        ref = ProcessRef.from_dict(self.record())
        if ref is None:
            return
        if ref.alive():
            os.kill(ref.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while owned_group(ref) and time.monotonic() < deadline:
            time.sleep(0.05)
        if owned_group(ref):
            signal_group(ref.pid, signal.SIGKILL)
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.record_path)


def reachable_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    return '127.0.0.1' if host in ('0.0.0.0', '', '::') else host
