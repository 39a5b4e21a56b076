"""The sandbox contract: how a trusted runner starts the process that imports model code.

``BaseSandbox.spawn(...)`` starts ``python -m singa.sandbox.child`` so that it can reach only:
its private temporary directory (``/tmp``, bounded in size), the read-only files it is given
(``binds``: sandbox path -> host path; a trial's datasets), the interpreter and packages it
needs, read-only, its template's environment if it has one (``env``: the packages its declared
dependencies added, read-only, on its path after the platform's; ``singa.envs``), and two pipes
to the runner. Nothing of the platform: no file of the platform or
of another user, no secret in a file, the environment or ``/proc``, no network. Its memory,
processes, file sizes and (for a check) CPU time are bounded; whatever it starts ends with it.

``BaseSandbox.run(...)`` runs a one-off ``python -s ARGV`` the same way (installing a template's
environment: pip, offline, with the wheels read-only and the environment's directory the only
writable one, ``writable``) and returns what it did (``SandboxRun``).

Implementations (``singa.sandbox.make_sandbox`` picks one):

- ``BubblewrapSandbox``: Linux namespaces made by bubblewrap (process mode): a private mount,
  PID, network, IPC and UTS namespace, a dedicated unprivileged user, a cgroup where one can be
  had.
- ``ContainerSandbox``: a plain child process inside a worker container that the container
  engine already locked down (Swarm mode): the container is the sandbox; the runner keeps its
  credentials out of the child's reach (non-dumpable, the child gets a clean environment).
- ``UnsandboxedProcess``: no isolation at all, for a single trusted user who asked for it.
"""
import abc
import dataclasses
import os
import signal
import subprocess
import sys
import time
from typing import Mapping, Optional

CHILD_MODULE = 'singa.sandbox.child'
LAUNCH_MODULE = 'singa.sandbox.launch'
MB = 1 << 20


@dataclasses.dataclass(frozen=True)
class SandboxRun:
    """What a sandboxed ``python ARGV`` did: its exit code (``None``: killed at the time limit),
    its output, and whether it was killed for using too much memory."""
    exit_code: Optional[int]
    stdout: bytes
    stderr: bytes
    out_of_memory: bool = False


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """What one sandbox may use. ``cpu_seconds`` 0 means no CPU-time limit (long-lived workers
    are bounded by their job's deadline instead)."""
    memory_mb: int = 4096
    max_pids: int = 256
    tmp_mb: int = 1024
    max_open_files: int = 1024
    cpu_seconds: int = 0
    threads: int = 0          # OMP/BLAS threads; 0: leave the libraries' defaults

    def rlimits(self) -> dict:
        """The resource limits the child sets on itself (``singa.sandbox.child.lower_limits``).
        The address space gets twice the memory: libraries reserve far more than they touch, and
        where a cgroup exists it bounds the memory really used."""
        limits = {'core': 0, 'nofile': self.max_open_files, 'fsize': self.tmp_mb * MB,
                  'as': 2 * self.memory_mb * MB}
        if self.cpu_seconds:
            limits['cpu'] = self.cpu_seconds
        return limits

    def environment(self) -> dict:
        if not self.threads:
            return {}
        value = str(self.threads)
        return {'OMP_NUM_THREADS': value, 'OPENBLAS_NUM_THREADS': value, 'MKL_NUM_THREADS': value}


class SandboxedProcess:
    """A running child: its pipes (``to_child``, ``from_child``: file descriptors) and its output
    (``output``: a readable file descriptor carrying its stdout and stderr)."""

    def __init__(self, popen: subprocess.Popen, to_child: int, from_child: int, output: int):
        self.popen = popen
        self.to_child, self.from_child, self.output = to_child, from_child, output

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """End the child and everything it started; idempotent, safe from any thread."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_strays(self) -> int:
        """Kill what the child started and left running (between trials); how many."""
        return 0

    def out_of_memory(self) -> bool:
        return False

    def close(self) -> Optional[int]:
        """Kill the child, release everything; its exit status (negative: killed by that signal)."""
        self.kill()
        try:
            code = self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        for fd in (self.to_child, self.from_child, self.output):
            try:
                os.close(fd)
            except OSError:
                pass
        return code


class BaseSandbox(abc.ABC):
    """Starts children that run model code. Contract in the module docstring."""

    name = 'base'
    isolated = True           # False only for UnsandboxedProcess
    private_paths = True      # the child sees binds at their targets; False: at their host paths

    @abc.abstractmethod
    def spawn(self, limits: SandboxLimits, binds: Mapping[str, str] = (), env=None) -> SandboxedProcess:
        """Start ``python -m singa.sandbox.child`` in a new sandbox; ``env`` (a
        ``singa.envs.TemplateEnv``) goes on its path, read-only, after the platform's packages."""

    @abc.abstractmethod
    def run(self, argv: list, limits: SandboxLimits, binds: Mapping[str, str] = (),
            writable: Mapping[str, str] = (), timeout: float = 60.0) -> SandboxRun:
        """Run ``python -s ARGV`` in a new sandbox within ``limits`` and ``timeout`` seconds, with
        ``binds`` read-only and ``writable`` (sandbox path -> host directory) writable."""


def child_config(limits: SandboxLimits, fds: tuple, workdir: str, sites: list = ()) -> str:
    """The child's configuration; ``sites``: directories it adds to its path (``site.addsitedir``)."""
    import json
    return json.dumps({'rlimits': limits.rlimits(), 'in_fd': fds[0], 'out_fd': fds[1], 'workdir': workdir,
                       'sites': list(sites)})


def launch_command(argv: list, limits: SandboxLimits) -> list:
    """``python -s ARGV`` started through ``singa.sandbox.launch``, which lowers its limits first."""
    import json
    return [sys.executable, '-s', '-m', LAUNCH_MODULE, json.dumps(limits.rlimits()), *argv]


def collect(popen: subprocess.Popen, timeout: float) -> tuple[Optional[int], bytes, bytes]:
    """(exit code, stdout, stderr) of ``popen``, whose process group is killed after ``timeout``
    seconds (exit code ``None``)."""
    try:
        out, err = popen.communicate(timeout=max(timeout, 0.1))
        return popen.returncode, out, err
    except subprocess.TimeoutExpired:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        out, err = popen.communicate()
        return None, out, err


def pipes():
    """(to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w), parent ends cloexec."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    out_r, out_w = os.pipe()
    for fd in (to_child_r, from_child_w):
        os.set_inheritable(fd, True)
    return to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w


def python_command() -> list:
    # -s: no user site directory; the child's sys.path is the interpreter's and its packages'.
    return [sys.executable, '-s', '-m', CHILD_MODULE]


def process_state(pid: int) -> str:
    """The state letter of ``pid`` (``R``, ``S``, ``Z``...), or ``X`` when there is no such process."""
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return 'X'


def kill_and_wait(pids, timeout: float = 2.0) -> int:
    """SIGKILL ``pids`` (live ones: zombies are already dead) and wait until each has died; how
    many were killed."""
    live = [pid for pid in pids if process_state(pid) not in 'ZX']
    for pid in live:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    wait_for(lambda: all(process_state(pid) in 'ZX' for pid in live), timeout)
    return len(live)


def wait_for(condition, timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
