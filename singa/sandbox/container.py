"""Children that are plain processes: ``ContainerSandbox`` inside a worker container that the
container engine locked down (Swarm mode), and ``UnsandboxedProcess`` (no isolation; single-user
installations only).

In a Swarm worker the container is the sandbox: a non-root user, a read-only root file system,
no capabilities, pids and memory limits, only the job's files mounted, and a network that reaches
Redis and nothing else. What the container cannot give by itself is keeping the runner's
credential (its job's Redis password) away from the model code beside it; so the runner's
process is made non-dumpable (``harden_runner``: its ``/proc/<pid>/environ`` and memory become
unreadable to a process of the same user, and it cannot be traced) and is PID 1 of the container
(no init process holding the environment), and the child starts with a clean environment in a
private directory.
"""
import ctypes
import logging
import os
import shutil
import subprocess
import tempfile
from typing import Mapping

from singa.container.process_files import process_table
from singa.sandbox.base import (BaseSandbox, SandboxLimits, SandboxRun, SandboxedProcess, child_config, collect,
                                kill_and_wait, launch_command, pipes, python_command)

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38


def harden_runner() -> None:
    """Make this process non-dumpable and unable to gain privileges (inherited by its children
    for the latter): a same-user process cannot read its environment or memory, nor trace it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for option, value in ((PR_SET_DUMPABLE, 0), (PR_SET_NO_NEW_PRIVS, 1)):
            if libc.prctl(option, value, 0, 0, 0) != 0:
                log.warning('prctl(%s) failed: errno %s', option, ctypes.get_errno())
    except OSError as e:
        log.warning('cannot harden the runner: %s', e)


class PlainProcess(SandboxedProcess):
    def __init__(self, popen, to_child, from_child, output, workdir: str):
        super().__init__(popen, to_child, from_child, output)
        self.workdir = workdir

    def kill_strays(self) -> int:
        """As PID 1 of a container, everything but ourselves and the child is a stray; elsewhere,
        whatever is left in the child's session."""
        child, me = self.popen.pid, os.getpid()
        in_container = me == 1
        strays = [pid for pid, fields in process_table()
                  if pid not in (child, me) and (in_container or int(fields[3]) == child)]
        killed = kill_and_wait(strays)
        if in_container:
            reap_orphans(keep=child)
        return killed

    def close(self):
        code = super().close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        if os.getpid() == 1:
            reap_orphans(keep=None)
        return code


def reap_orphans(keep) -> None:
    """As PID 1 (a worker container has no init), collect the exited processes that the model
    code's children left to us, never the child ``keep`` that ``subprocess`` waits for itself."""
    for pid, fields in process_table():
        if pid not in (keep, 1) and fields[0] == 'Z' and fields[1] == '1':
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


class ContainerSandbox(BaseSandbox):
    name = 'container'
    private_paths = False

    def spawn(self, limits: SandboxLimits, binds: Mapping[str, str] = (), env=None) -> SandboxedProcess:
        _host_paths_only(binds)
        workdir = tempfile.mkdtemp(prefix='singa-sandbox-')
        to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w = pipes()
        sites = [os.path.join(env.path, site) for site in env.sites] if env is not None else []
        config = child_config(limits, (to_child_r, from_child_w), workdir, sites)
        try:
            popen = subprocess.Popen(python_command() + [config], env=_clean_environment(workdir, limits), cwd=workdir,
                                     stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                     pass_fds=(to_child_r, from_child_w), start_new_session=True, close_fds=True)
        except OSError:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        for fd in (to_child_r, from_child_w, out_w):
            os.close(fd)
        return PlainProcess(popen, to_child_w, from_child_r, out_r, workdir)

    def run(self, argv: list, limits: SandboxLimits, binds: Mapping[str, str] = (),
            writable: Mapping[str, str] = (), timeout: float = 60.0) -> SandboxRun:
        _host_paths_only(binds)
        _host_paths_only(writable)
        workdir = tempfile.mkdtemp(prefix='singa-sandbox-')
        try:
            popen = subprocess.Popen(launch_command(argv, limits), env=_clean_environment(workdir, limits),
                                     cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True, close_fds=True)
            return SandboxRun(*collect(popen, timeout))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _host_paths_only(binds: Mapping[str, str]) -> None:
    # Files are mounted into the container at their own paths; nothing to rebind.
    moved = [target for target, source in dict(binds or {}).items() if target != source]
    if moved:
        raise ValueError(f'a plain child sees host paths; cannot show {moved[0]} elsewhere')


def _clean_environment(workdir: str, limits: SandboxLimits) -> dict:
    env = {'HOME': workdir, 'TMPDIR': workdir, 'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
           'LANG': 'C.UTF-8', 'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONUNBUFFERED': '1', **limits.environment()}
    if 'PYTHONPATH' in os.environ:
        env['PYTHONPATH'] = os.environ['PYTHONPATH']
    return env


class UnsandboxedProcess(ContainerSandbox):
    """No isolation: the child runs as this user and sees what it sees. Only for an installation
    whose one user trusts every template (``SINGA_SANDBOX=none`` with ``SINGA_SINGLE_USER``)."""
    name = 'none'
    isolated = False
