"""What every process on this machine has on its command line, where any local user can read it
(``ps``, ``/proc/<pid>/cmdline``): the tests check that no secret of the platform is ever there."""
import os
import threading


def all_command_lines() -> set[str]:
    """The command line of every process now, arguments joined by spaces."""
    lines = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/cmdline', 'rb') as f:
                    lines.add(f.read().replace(b'\0', b' ').decode(errors='replace'))
            except OSError:
                continue
    return lines


class CommandLineWatch:
    """Collects the distinct command lines of every process, every ``interval`` seconds, from
    ``start()`` to ``stop()`` (or as a ``with`` block)."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='command-line-watch', daemon=True)

    def start(self) -> 'CommandLineWatch':
        self._thread.start()
        return self

    def stop(self) -> set[str]:
        """Stop watching; every command line seen, those of now included."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.seen |= all_command_lines()
        return self.seen

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def _run(self):
        while not self._stop.is_set():
            self.seen |= all_command_lines()
            self._stop.wait(self.interval)

    def holding(self, secrets: dict) -> list[str]:
        """The names of the ``secrets`` (name -> value) that some command line seen held."""
        text = '\n'.join(self.seen)
        return [name for name, value in secrets.items() if value and value in text]
