"""``BubblewrapSandbox``: model code in Linux namespaces made by bubblewrap (``bwrap``).

The child sees a root file system built for it: ``/usr`` (and the merged-usr links), a few files
of ``/etc`` that the dynamic loader and libc read, the Python installation and virtualenv and the
``singa`` package read-only, a fresh ``/proc`` of its own PID namespace, a minimal ``/dev``, a
size-bounded private ``/tmp`` and ``/dev/shm``, the read-only files it was given, and its
template's environment, read-only, at ``/env``. Its network
namespace has no interface but its own loopback, so nothing of the host (the admin, PostgreSQL,
Redis, predictors, Docker) can be reached. When its parent dies it dies (``--die-with-parent``),
and when it ends, every process in its PID namespace ends with it.

Who it runs as:

- started as root (``singa up`` as root, the README's commands): bubblewrap sets the namespaces
  up as root, then ``setpriv`` switches to the dedicated system user ``singa-sandbox`` (made on
  first use), with no capabilities, no supplementary groups and no-new-privileges. The sandbox
  also gets a cgroup of its own (memory without swap, processes) where the kernel offers one.
- started as another user: an unprivileged user namespace (bubblewrap's own mode), mapping that
  user to ``nobody`` inside, nested user namespaces disabled; memory is then bounded by an
  address-space limit (which the other mode sets too).
"""
import logging
import os
import posixpath
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
from typing import Mapping, Optional

from singa.container.process_files import process_table
from singa.errors import ConfigError
from singa.sandbox.base import (BaseSandbox, MB, SandboxLimits, SandboxRun, SandboxedProcess, child_config, collect,
                                kill_and_wait, launch_command, pipes, python_command)
from singa.sandbox.cgroups import SandboxCgroup

log = logging.getLogger(__name__)

SANDBOX_USER = 'singa-sandbox'
ETC_FILES = ('ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'passwd', 'group', 'nsswitch.conf',
             'localtime', 'mime.types')
MERGED_USR = ('bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32')
TMP = '/tmp'
ENV_TARGET = '/env'           # where a template's environment is seen, read-only


def sandbox_user() -> tuple[int, int]:
    """(uid, gid) of ``singa-sandbox``, created as a system user when missing (root only);
    ``nobody`` where it cannot be created."""
    try:
        entry = pwd.getpwnam(SANDBOX_USER)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    useradd = shutil.which('useradd') or '/usr/sbin/useradd'
    if os.path.exists(useradd):
        subprocess.run([useradd, '--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent',
                        '--shell', '/usr/sbin/nologin', '--comment', 'SingaAuto model sandbox', SANDBOX_USER],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        try:
            entry = pwd.getpwnam(SANDBOX_USER)
            return entry.pw_uid, entry.pw_gid
        except KeyError:
            pass
    log.warning('could not create the user %s; model code runs as nobody', SANDBOX_USER)
    entry = pwd.getpwnam('nobody')
    return entry.pw_uid, entry.pw_gid


def python_paths() -> list:
    """Host directories the child's interpreter needs, read-only: the installation, the
    virtualenv, and wherever ``singa`` is imported from when it is not in either."""
    import singa
    paths = {os.path.realpath(sys.base_prefix), os.path.abspath(sys.prefix)}
    package = os.path.dirname(os.path.abspath(singa.__file__))
    if not any(package.startswith(p.rstrip('/') + '/') for p in paths):
        paths.add(package)
    return sorted(paths)


class BubblewrapSandbox(BaseSandbox):
    name = 'bubblewrap'

    def __init__(self, bwrap: Optional[str] = None):
        self.bwrap = bwrap or shutil.which('bwrap')
        if not self.bwrap:
            raise ConfigError('bubblewrap (bwrap) is not installed: apt-get install -y bubblewrap')
        self.as_root = os.geteuid() == 0
        self.user = sandbox_user() if self.as_root else None
        self.setpriv = shutil.which('setpriv') or '/usr/bin/setpriv'
        self._system_args = self._system_binds()

    # -- the file system ---------------------------------------------------------------------
    def _system_binds(self) -> list:
        args = ['--ro-bind', '/usr', '/usr']
        for name in MERGED_USR:
            path = '/' + name
            if os.path.islink(path):
                args += ['--symlink', os.readlink(path), path]
            elif os.path.isdir(path):
                args += ['--ro-bind', path, path]
        # /etc must be searchable by the sandbox's user, or the files below cannot be read (bubblewrap
        # would make it 0700): the loader's cache, passwd for getpwuid, ...
        args += ['--perms', '0755', '--dir', '/etc']
        for name in ETC_FILES:
            args += ['--ro-bind-try', f'/etc/{name}', f'/etc/{name}']
        args += ['--ro-bind-try', '/sys/devices/system/cpu', '/sys/devices/system/cpu']
        targets = [p for p in python_paths() if not p.startswith('/usr/')]
        args += _parent_dirs(targets, covered=('/usr', '/etc', '/sys'))
        for path in targets:
            args += ['--ro-bind', path, path]
        return args

    def argv(self, limits: SandboxLimits, binds: Mapping[str, str], config: str) -> list:
        """bubblewrap's command line for a child (``singa.sandbox.child`` with ``config``)."""
        return self.command_argv(limits, binds, python_command() + [config])

    def command_argv(self, limits: SandboxLimits, binds: Mapping[str, str], command: list,
                     writable: Mapping[str, str] = ()) -> list:
        """bubblewrap's command line for ``command`` in a new sandbox: ``binds`` read-only,
        ``writable`` (sandbox path -> host directory) writable."""
        writable = dict(writable or {})
        args = [self.bwrap, '--die-with-parent', '--new-session', '--unshare-pid', '--unshare-net',
                '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--hostname', 'sandbox']
        if not self.as_root:
            args += ['--unshare-user', '--disable-userns', '--uid', '65534', '--gid', '65534']
        args += self._system_args
        args += ['--proc', '/proc', '--dev', '/dev',
                 '--perms', '1777', '--size', str(limits.tmp_mb * MB), '--tmpfs', TMP,
                 '--perms', '1777', '--size', str(64 * MB), '--tmpfs', '/dev/shm']
        targets = sorted(set(binds) | set(writable))
        args += _parent_dirs(targets, covered=('/usr', '/etc', '/sys', '/proc', '/dev', TMP))
        for target in targets:
            args += ['--bind', writable[target], target] if target in writable \
                else ['--ro-bind', binds[target], target]
        env = {'HOME': TMP, 'TMPDIR': TMP, 'PATH': '/usr/local/bin:/usr/bin:/bin', 'LANG': 'C.UTF-8',
               'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONUNBUFFERED': '1', **limits.environment()}
        args += ['--clearenv']
        for key, value in sorted(env.items()):
            args += ['--setenv', key, value]
        args += ['--chdir', TMP]
        if self.as_root:
            uid, gid = self.user
            args += ['--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--',
                     self.setpriv, f'--reuid={uid}', f'--regid={gid}', '--clear-groups', '--inh-caps=-all',
                     '--bounding-set=-all', '--no-new-privs', '--']
        else:
            args += ['--']
        return args + command

    # -- starting ------------------------------------------------------------------------------
    def spawn(self, limits: SandboxLimits, binds: Mapping[str, str] = (), env=None) -> SandboxedProcess:
        binds = dict(binds or {})
        sites = []
        if env is not None:
            binds[ENV_TARGET] = env.path
            sites = [posixpath.join(ENV_TARGET, site) for site in env.sites]
        if self.as_root:
            for source in binds.values():
                _grant_group_read(source, self.user[1])
        to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w = pipes()
        config = child_config(limits, (to_child_r, from_child_w), TMP, sites)
        try:
            popen, cgroup = self._start(self.argv(limits, binds, config), limits, out_w, out_w,
                                        (to_child_r, from_child_w))
        except OSError:
            for fd in (to_child_r, to_child_w, from_child_r, from_child_w, out_r, out_w):
                os.close(fd)
            raise
        for fd in (to_child_r, from_child_w, out_w):
            os.close(fd)
        return BubblewrapProcess(popen, to_child_w, from_child_r, out_r, cgroup)

    def run(self, argv: list, limits: SandboxLimits, binds: Mapping[str, str] = (),
            writable: Mapping[str, str] = (), timeout: float = 60.0) -> SandboxRun:
        binds, writable = dict(binds or {}), dict(writable or {})
        if self.as_root:
            for source in binds.values():
                _grant_group_read(source, self.user[1])
            for source in writable.values():          # a fresh directory the sandbox fills
                os.chown(source, *self.user)
        argv = self.command_argv(limits, binds, launch_command(argv, limits), writable)
        popen, cgroup = self._start(argv, limits, subprocess.PIPE, subprocess.PIPE)
        try:
            code, out, err = collect(popen, timeout)
            return SandboxRun(code, out, err, cgroup is not None and cgroup.out_of_memory())
        finally:
            if cgroup is not None:
                cgroup.remove()

    def _start(self, argv: list, limits: SandboxLimits, stdout, stderr,
               pass_fds: tuple = ()) -> tuple[subprocess.Popen, Optional[SandboxCgroup]]:
        """Start bubblewrap (in a cgroup of its own, as root, before anything in it runs)."""
        cgroup = SandboxCgroup.create(f'sb-{secrets.token_hex(6)}', limits.memory_mb * MB, limits.max_pids) \
            if self.as_root else None
        gate_r = gate_w = None
        if cgroup is not None:
            # The sandbox must be in its cgroup before anything in it runs: a shell waits on a
            # gate (its stdin) until we have moved it in, then becomes bubblewrap.
            gate_r, gate_w = os.pipe()
            argv = ['/bin/sh', '-c', 'read _ && exec "$@" </dev/null', 'singa-sandbox-gate'] + argv
        try:
            popen = subprocess.Popen(argv, stdin=gate_r if gate_r is not None else subprocess.DEVNULL,
                                     stdout=stdout, stderr=stderr, pass_fds=pass_fds,
                                     start_new_session=True, close_fds=True)
        except OSError:
            for fd in (gate_r, gate_w):
                if fd is not None:
                    os.close(fd)
            if cgroup is not None:
                cgroup.remove()
            raise
        if cgroup is not None:
            os.close(gate_r)
            try:
                cgroup.add(popen.pid)
                os.write(gate_w, b'go\n')
            except OSError:
                _end(popen)
                cgroup.remove()
                raise
            finally:
                os.close(gate_w)
        return popen, cgroup


class BubblewrapProcess(SandboxedProcess):
    def __init__(self, popen, to_child, from_child, output, cgroup: Optional[SandboxCgroup]):
        super().__init__(popen, to_child, from_child, output)
        self.cgroup = cgroup
        self._known: set = set()

    def _own_pids(self) -> set:
        """Host pids of bubblewrap, its init in the sandbox and the child: never strays."""
        if not self._known:
            known = {self.popen.pid}
            for init in _children(self.popen.pid):
                known.add(init)
                known.update(_children(init)[:1])     # the child is init's first and only child
            if len(known) == 3:
                self._known = known
            return known
        return self._known

    def kill_strays(self) -> int:
        own = self._own_pids()
        if self.cgroup is not None:
            # Everything in the cgroup is the sandbox's: one small file to read per trial.
            return kill_and_wait([pid for pid in self.cgroup.pids() if pid not in own])
        namespaces = {os.readlink(f'/proc/{pid}/ns/pid') for pid in own - {self.popen.pid}
                      if os.path.exists(f'/proc/{pid}')}
        strays = []
        for pid, _ in process_table():
            try:
                if pid not in own and os.readlink(f'/proc/{pid}/ns/pid') in namespaces:
                    strays.append(pid)
            except OSError:
                continue
        return kill_and_wait(strays)

    def out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.out_of_memory()

    def close(self):
        code = super().close()
        if self.cgroup is not None:
            self.cgroup.remove()
        return code


def _parent_dirs(targets, covered=()) -> list:
    """``--dir`` arguments (mode 0755) for every ancestor of ``targets`` not already provided:
    bubblewrap would otherwise make them 0700, which the sandbox user could not enter."""
    made, args = set(), []
    for target in targets:
        parts = target.strip('/').split('/')[:-1]
        for i in range(1, len(parts) + 1):
            path = '/' + '/'.join(parts[:i])
            if path in made or any(path == c or path.startswith(c + '/') for c in covered) \
                    or any(path == t or path.startswith(t.rstrip('/') + '/') for t in targets if t != target):
                continue
            made.add(path)
            args += ['--perms', '0755', '--dir', path]
    return args


def _end(popen: subprocess.Popen) -> None:
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    popen.wait()


def _grant_group_read(path: str, gid: int) -> None:
    """Let the sandbox's group read a file it is given (stored files are often 0600), without
    opening it to anyone else."""
    st = os.stat(path)
    if st.st_mode & stat.S_IROTH or (st.st_gid == gid and st.st_mode & stat.S_IRGRP):
        return
    os.chown(path, -1, gid)
    os.chmod(path, stat.S_IMODE(st.st_mode) | stat.S_IRGRP)


def _children(pid: int) -> list:
    try:
        with open(f'/proc/{pid}/task/{pid}/children', encoding='ascii') as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
