"""The supervisor of one process-mode service: ``python -m singa.container.supervise <service dir>``.

Started by ``ProcessContainerManager`` in a session of its own; it forks once more and the first
process exits at once, so the supervisor is nobody's child to reap and outlives the admin. It then

- starts ``replicas`` processes ``[executable, *command]`` with exactly the environment in the
  spec (plus ``SINGA_REPLICA_INDEX``, from 1, and ``SINGA_TASK_ID``, a random name of this start of
  the replica, recorded as its ``task``), each leading a process group of its own, output appended to
  ``<log_dir>/<service name>-<replica>.log``;
- restarts a replica that exits non-zero (or is killed by a signal) up to ``max_restarts`` times
  with a short exponential backoff, when the spec's ``restart`` is on; a replica that exits 0 is
  done. When a replica exits, what is left of its process group is killed with it;
- records every change in ``state.json`` (see ``process_files``);
- exits when every replica is done (status STOPPED if all exited 0, else ERRORED), or on SIGTERM:
  SIGTERM to every replica group, SIGKILL after the grace period of ``stop.json``, status STOPPED.

It waits on a self-pipe woken by SIGCHLD and SIGTERM (``signal.set_wakeup_fd``), never by polling.
"""
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from typing import Optional

from singa.container import process_files as files

DEFAULT_STOP_TIMEOUT = 10.0


def restart_backoff(restarts: int) -> float:
    """Seconds to wait before restart number ``restarts + 1``: 0.2, 0.4, 0.8, ... at most 5."""
    return min(0.2 * 2 ** restarts, 5.0)


class Replica:
    def __init__(self, index: int):
        self.index = index
        self.popen: Optional[subprocess.Popen] = None
        self.ref: Optional[files.ProcessRef] = None
        self.state = 'pending'        # pending, running, restarting, exited, failed, stopped
        self.exit_code: Optional[int] = None
        self.restarts = 0
        self.restart_at: Optional[float] = None
        self.task: Optional[str] = None

    def to_dict(self) -> dict:
        return {'index': self.index, 'state': self.state, 'exit_code': self.exit_code,
                'restarts': self.restarts, 'task': self.task, 'process': self.ref.to_dict() if self.ref else None}


class Supervisor:
    def __init__(self, service_dir: str):
        self.dir = service_dir
        self.spec = files.read_json(os.path.join(service_dir, files.SPEC))
        if self.spec is None:
            raise SystemExit(f'no readable {files.SPEC} in {service_dir}')
        self.replicas = [Replica(i) for i in range(1, int(self.spec['replicas']) + 1)]
        self.me = files.ProcessRef.of(os.getpid())
        self._stop_requested = False

    # -- state ---------------------------------------------------------------------------------
    def status(self) -> str:
        states = [r.state for r in self.replicas]
        if self._stop_requested:
            return 'STOPPING' if any(s == 'running' for s in states) else 'STOPPED'
        if any(s in ('running', 'restarting') for s in states):
            return 'RUNNING'
        if any(s == 'pending' for s in states):
            return 'DEPLOYING'
        return 'STOPPED' if all(s == 'exited' for s in states) else 'ERRORED'

    def write_state(self) -> None:
        files.write_json_atomic(os.path.join(self.dir, files.STATE), {
            'status': self.status(), 'supervisor': self.me.to_dict(), 'updated_at': time.time(),
            'replicas': [r.to_dict() for r in self.replicas]})

    # -- replicas ------------------------------------------------------------------------------
    def _log_path(self, replica: Replica) -> str:
        return os.path.join(self.spec['log_dir'], f"{self.spec['log_name']}-{replica.index}.log")

    def start(self, replica: Replica) -> None:
        replica.task = secrets.token_hex(8)
        env = dict(self.spec['environment'], SINGA_REPLICA_INDEX=str(replica.index), SINGA_TASK_ID=replica.task)
        try:
            with open(self._log_path(replica), 'ab') as log:
                log.write(f'--- singa: replica {replica.index} starting (restart {replica.restarts}) '
                          f'at {time.strftime("%Y-%m-%d %H:%M:%S")} ---\n'.encode())
                log.flush()
                replica.popen = subprocess.Popen(
                    [self.spec['executable'], *self.spec['command']], env=env,
                    cwd=os.path.join(self.dir, files.WORK), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        except OSError as e:   # no log directory, no executable: counts as a failed start
            print(f'replica {replica.index} cannot start: {e}', file=sys.stderr, flush=True)
            replica.popen, replica.ref, replica.exit_code = None, None, 127
            self._after_exit(replica)
            return
        replica.ref = files.ProcessRef.of(replica.popen.pid) or files.ProcessRef(replica.popen.pid, -1)
        replica.state, replica.exit_code, replica.restart_at = 'running', None, None

    def _after_exit(self, replica: Replica) -> None:
        if replica.exit_code == 0:
            replica.state = 'exited'
        elif self.spec['restart'] and replica.restarts < int(self.spec['max_restarts']):
            replica.state = 'restarting'
            replica.restart_at = time.monotonic() + restart_backoff(replica.restarts)
        else:
            replica.state = 'failed'

    def reap(self) -> bool:
        """Collect replicas that exited; True if any did."""
        changed = False
        for replica in self.replicas:
            if replica.popen is None or replica.popen.poll() is None:
                continue
            files.signal_group(replica.popen.pid, signal.SIGKILL)   # its orphans go with it
            replica.exit_code, replica.popen = replica.popen.returncode, None
            changed = True
            if self._stop_requested:
                replica.state = 'stopped'
            else:
                self._after_exit(replica)
        return changed

    def restart_due(self) -> bool:
        changed = False
        now = time.monotonic()
        for replica in self.replicas:
            if replica.state == 'restarting' and replica.restart_at <= now:
                replica.restarts += 1
                self.start(replica)
                changed = True
        return changed

    def next_deadline(self) -> Optional[float]:
        times = [r.restart_at for r in self.replicas if r.state == 'restarting']
        return min(times) if times else None

    # -- main loop -----------------------------------------------------------------------------
    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._request_stop)
        self.write_state()
        for replica in self.replicas:
            self.start(replica)
        self.write_state()
        while not self._stop_requested:
            changed = self.reap()
            changed = self.restart_due() or changed
            if changed:
                self.write_state()
            if all(r.state in ('exited', 'failed') for r in self.replicas):
                return 0
            deadline = self.next_deadline()
            self._sleep(wake_r, None if deadline is None else max(0.0, deadline - time.monotonic()))
        self.stop(wake_r)
        return 0

    def _request_stop(self, *_):
        self._stop_requested = True

    @staticmethod
    def _sleep(wake_r: int, timeout: Optional[float]) -> None:
        select.select([wake_r], [], [], timeout)
        try:
            while os.read(wake_r, 512):
                pass
        except BlockingIOError:
            pass

    def stop(self, wake_r: int) -> None:
        stop = files.read_json(os.path.join(self.dir, files.STOP)) or {}
        timeout = float(stop.get('timeout', DEFAULT_STOP_TIMEOUT))
        for replica in self.replicas:
            if replica.state in ('pending', 'restarting'):
                replica.state = 'stopped'
            elif replica.popen is not None:
                files.signal_group(replica.popen.pid, signal.SIGTERM)
        self.write_state()
        deadline = time.monotonic() + timeout
        while any(r.popen is not None for r in self.replicas) and time.monotonic() < deadline:
            if not self.reap():
                self._sleep(wake_r, max(0.0, deadline - time.monotonic()))
        for replica in self.replicas:
            if replica.popen is not None:
                files.signal_group(replica.popen.pid, signal.SIGKILL)
                replica.popen.wait()
        self.reap()
        self.write_state()


def main(argv: list) -> int:
    if len(argv) != 1:
        print('usage: python -m singa.container.supervise <service dir>', file=sys.stderr)
        return 2
    supervisor = Supervisor(os.path.abspath(argv[0]))
    # Fork once more: the manager reaps this first process, which records the second one (the
    # supervisor proper) in state.json before it exits, so the manager knows it on return. The
    # supervisor waits for that record to be written before it writes any state of its own.
    go_r, go_w = os.pipe()
    child = os.fork()
    if child > 0:
        os.close(go_r)
        try:
            files.write_json_atomic(os.path.join(supervisor.dir, files.STATE), {
                'status': 'DEPLOYING', 'supervisor': files.ProcessRef.of(child).to_dict(),
                'updated_at': time.time(), 'replicas': []})
        except BaseException as e:
            os.kill(child, signal.SIGKILL)
            print(f'cannot record the supervisor: {e}', file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    os.close(go_w)
    os.read(go_r, 1)          # returns at end of file: the first process has exited
    os.close(go_r)
    supervisor.me = files.ProcessRef.of(os.getpid())
    return supervisor.run()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
