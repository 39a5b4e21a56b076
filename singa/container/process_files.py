"""Files and process identities shared by ``ProcessContainerManager`` and its supervisors.

One service lives in ``<data_dir>/services/<service id>/`` (mode 0700):

- ``spec.json``: written once by the manager before the supervisor starts; the command, the whole
  environment of the replicas, the restart policy, the labels and the published port.
- ``state.json``: written only by the supervisor, always atomically (write, then rename): its own
  identity, the service status and, per replica, pid and start time, state, exit code, restarts.
- ``stop.json``: written by the manager just before it sends SIGTERM to the supervisor, carrying
  the grace period (``{"timeout": seconds}``) after which replicas get SIGKILL.
- ``supervisor.log``: the supervisor's own output. ``work/``: the replicas' working directory.

A pid alone does not name a process for long: pids are reused. Every pid recorded here comes with
the process's start time (field 22 of ``/proc/<pid>/stat``), and a ``ProcessRef`` is alive only if
a process with that pid and that start time exists and is not a zombie.
"""
import dataclasses
import json
import os
import tempfile
from typing import Optional

SPEC = 'spec.json'
STATE = 'state.json'
STOP = 'stop.json'
SUPERVISOR_LOG = 'supervisor.log'
WORK = 'work'


def proc_start_time(pid: int) -> Optional[int]:
    """The start time of ``pid`` in clock ticks since boot, or None if there is no live such process."""
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            after_name = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    if after_name[0] in ('Z', 'X'):   # a zombie has exited already
        return None
    return int(after_name[19])


@dataclasses.dataclass(frozen=True)
class ProcessRef:
    """A process named by pid and start time, so that a reused pid is never mistaken for it."""
    pid: int
    start_time: int

    @classmethod
    def of(cls, pid: int) -> Optional['ProcessRef']:
        start = proc_start_time(pid)
        return None if start is None else cls(pid, start)

    @classmethod
    def from_dict(cls, data: Optional[dict]) -> Optional['ProcessRef']:
        if not data or data.get('pid') is None:
            return None
        return cls(int(data['pid']), int(data['start_time']))

    def to_dict(self) -> dict:
        return {'pid': self.pid, 'start_time': self.start_time}

    def alive(self) -> bool:
        return proc_start_time(self.pid) == self.start_time


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def process_table():
    """``(pid, fields)`` of every process, ``fields`` being ``/proc/<pid>/stat`` after the command
    name: ``[state, ppid, pgid, session, ...]`` (field 3 onwards of proc(5))."""
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', encoding='utf-8') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        yield int(entry), fields


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` has a member that is not a zombie (a zombie still counts
    for ``kill``, and is reaped only when its parent, maybe init, gets round to it)."""
    return any(int(fields[2]) == pgid and fields[0] not in ('Z', 'X') for _, fields in process_table())


def owned_group(ref: ProcessRef) -> bool:
    """Whether ``ref``'s process group (its pgid is its pid: replicas lead their own session) may
    still hold live processes of ours. If the leader is alive it must be ours (same start time);
    if it is gone, Linux does not hand its pid out again while the group still has members, so
    any member left is one of ours."""
    start = proc_start_time(ref.pid)
    if start is not None:
        return start == ref.start_time
    return group_alive(ref.pid)


def write_json_atomic(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old or the new file, never a part."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(path), suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``, or None if the file does not exist (or is not JSON yet)."""
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None


def tail(path: str, max_bytes: int = 4000) -> str:
    """The end of a log file, for error messages."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            return f.read().decode('utf-8', 'replace')
    except OSError:
        return ''

