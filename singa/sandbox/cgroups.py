"""One cgroup per sandbox, where the machine lets us have one: a memory limit (no swap), a
process limit, out-of-memory detection, and a way to kill everything in it.

cgroup v2 (a unified hierarchy with the memory and pids controllers) and v1 (separate memory and
pids hierarchies, as on these machines) are both handled. Creating cgroups needs root (or a
delegated subtree); ``SandboxCgroup.create`` returns None when it cannot, and the caller falls
back to resource limits alone.
"""
import logging
import os
import signal
import time
from typing import Optional

log = logging.getLogger(__name__)

ROOT = '/sys/fs/cgroup'
PARENT = 'singa-sandbox'


def _own_path(controller: str) -> Optional[str]:
    """This process's cgroup path in the v1 hierarchy of ``controller`` ('' for v2)."""
    try:
        with open('/proc/self/cgroup', encoding='utf-8') as f:
            for line in f:
                _, controllers, path = line.rstrip('\n').split(':', 2)
                if controller in controllers.split(','):
                    return path
    except OSError:
        return None
    return None


def _write(path: str, value: str) -> None:
    with open(path, 'w', encoding='ascii') as f:
        f.write(value)


class SandboxCgroup:
    """The directories of one sandbox's cgroup (one per v1 controller, or one for v2)."""

    def __init__(self, memory_dir: str, pids_dir: str, v2: bool):
        self.memory_dir, self.pids_dir, self.v2 = memory_dir, pids_dir, v2

    @classmethod
    def create(cls, name: str, memory_bytes: int, max_pids: int) -> Optional['SandboxCgroup']:
        """A new cgroup with these limits, or None where none can be made here."""
        try:
            if os.path.exists(os.path.join(ROOT, 'cgroup.controllers')):
                group = cls._create_v2(name)
            elif os.path.isdir(os.path.join(ROOT, 'memory')) and os.path.isdir(os.path.join(ROOT, 'pids')):
                group = cls._create_v1(name)
            else:
                return None
        except OSError as e:
            log.debug('no cgroup for the sandbox: %s', e)
            return None
        try:
            group._limit(memory_bytes, max_pids)
        except OSError as e:
            log.debug('cannot set the sandbox cgroup limits: %s', e)
            group.remove()
            return None
        return group

    @classmethod
    def _create_v1(cls, name: str) -> 'SandboxCgroup':
        dirs = []
        for controller in ('memory', 'pids'):
            own = _own_path(controller)
            if own is None:
                raise OSError(f'not in a v1 {controller} cgroup')
            path = os.path.join(ROOT, controller, own.lstrip('/'), PARENT, name)
            os.makedirs(path)
            dirs.append(path)
        return cls(dirs[0], dirs[1], v2=False)

    @classmethod
    def _create_v2(cls, name: str) -> 'SandboxCgroup':
        # A cgroup with processes cannot hand controllers to its children: ours go under the root.
        parent = os.path.join(ROOT, PARENT)
        os.makedirs(parent, exist_ok=True)
        for directory in (ROOT, parent):
            _write(os.path.join(directory, 'cgroup.subtree_control'), '+memory +pids')
        path = os.path.join(parent, name)
        os.makedirs(path)
        return cls(path, path, v2=True)

    def _limit(self, memory_bytes: int, max_pids: int) -> None:
        if self.v2:
            _write(os.path.join(self.memory_dir, 'memory.max'), str(memory_bytes))
            swap = os.path.join(self.memory_dir, 'memory.swap.max')
            if os.path.exists(swap):
                _write(swap, '0')
        else:
            _write(os.path.join(self.memory_dir, 'memory.limit_in_bytes'), str(memory_bytes))
            memsw = os.path.join(self.memory_dir, 'memory.memsw.limit_in_bytes')
            if os.path.exists(memsw):
                _write(memsw, str(memory_bytes))
        _write(os.path.join(self.pids_dir, 'pids.max'), str(max_pids))

    def add(self, pid: int) -> None:
        for directory in {self.memory_dir, self.pids_dir}:
            _write(os.path.join(directory, 'cgroup.procs'), str(pid))

    def pids(self) -> list[int]:
        found = set()
        for directory in {self.memory_dir, self.pids_dir}:
            try:
                with open(os.path.join(directory, 'cgroup.procs'), encoding='ascii') as f:
                    found.update(int(line) for line in f if line.strip())
            except OSError:
                pass
        return sorted(found)

    def out_of_memory(self) -> bool:
        """Whether the kernel killed a process of this cgroup for going over the memory limit."""
        name = 'memory.events' if self.v2 else 'memory.oom_control'
        try:
            with open(os.path.join(self.memory_dir, name), encoding='ascii') as f:
                for line in f:
                    key, _, value = line.partition(' ')
                    if key == 'oom_kill' and int(value) > 0:
                        return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self, timeout: float = 5.0) -> None:
        """Kill whatever is left in it, then delete it."""
        deadline = time.monotonic() + timeout
        for directory in {self.memory_dir, self.pids_dir}:
            while True:
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning('could not remove the sandbox cgroup %s', directory)
                        break
                    time.sleep(0.01)
