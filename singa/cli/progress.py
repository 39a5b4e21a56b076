"""The progress display of a train job while ``singa train`` waits for it.

On a terminal it is one line redrawn in place after every poll (trials done of the budget, running,
best score, elapsed time, time to the deadline), ended by a newline when the job ends. When standard
output is not a terminal (a pipe, a log file, CI) it prints a plain line each time something other
than the clock changes.
"""
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional, TextIO

from singa.cli.output import duration, parse_time
from singa.constants import BudgetKey, TrialStatus

LIVE_TRIALS = tuple(str(s) for s in TrialStatus.LIVE)
CLEAR_LINE = '\r\033[K'


@dataclass(frozen=True)
class JobProgress:
    """What the display shows of one answer of ``GET /train_jobs/<app>/<version>``."""
    app: str
    version: int
    status: str
    done: int                    # trials that ended (completed, pruned, errored or stopped)
    running: int                 # trials pending or running
    total: Optional[int]         # the budget's trials (MODEL_TRIAL_COUNT per template), if it has a count
    best: Optional[float]
    elapsed: float               # seconds since the job was created (to its end, once it ended)
    remaining: Optional[float]   # seconds to the deadline while it runs

    @classmethod
    def of(cls, job: dict, now: datetime) -> 'JobProgress':
        counts = [s['trials'] for s in job.get('sub_train_jobs', [])]
        running = sum(n for c in counts for status, n in c.items() if status in LIVE_TRIALS)
        done = sum(sum(c.values()) for c in counts) - running
        per_template = (job.get('budget') or {}).get(BudgetKey.MODEL_TRIAL_COUNT.value)
        total = per_template * len(counts) if isinstance(per_template, int) and per_template > 0 else None
        created, stopped = parse_time(job.get('created_at')), parse_time(job.get('stopped_at'))
        elapsed = ((stopped or now) - created).total_seconds() if created else 0.0
        deadline = parse_time(job.get('deadline_at'))
        remaining = (deadline - now).total_seconds() if deadline and not stopped else None
        return cls(job['app'], job['app_version'], job['status'], done, running, total, job.get('best_score'),
                   max(0.0, elapsed), None if remaining is None else max(0.0, remaining))

    def state(self) -> str:
        """Everything but the clock, as a plain line says it."""
        return (f'{self.app} v{self.version} {self.status}: {self._trials()} trials done, {self.running} running, '
                f'best score {self._best()}')

    def line(self) -> str:
        """The terminal's line: short, with the elapsed time and the time left to the deadline."""
        left = f' ({duration(self.remaining)} left)' if self.remaining is not None else ''
        return (f'{self.app} v{self.version} {self.status}  trials {self._trials()} ({self.running} running)  '
                f'best {self._best()}  {duration(self.elapsed)}{left}')

    def _trials(self) -> str:
        return f'{self.done}/{self.total}' if self.total is not None else f'{self.done}'

    def _best(self) -> str:
        return '-' if self.best is None else f'{self.best:.4f}'


class ProgressDisplay:
    """Give ``update`` to ``Client.wait_until_train_job_has_stopped(on_update=...)``; ``close`` at the end."""

    def __init__(self, stream: TextIO, live: bool,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.stream = stream
        self.live = live
        self.now = now
        self._last: Optional[str] = None
        self._drawn = False

    def update(self, job: dict) -> None:
        progress = JobProgress.of(job, self.now())
        if self.live:
            width = max(20, shutil.get_terminal_size().columns - 1)
            self.stream.write(CLEAR_LINE + progress.line()[:width])
            self._drawn = True
        elif progress.state() != self._last:
            self.stream.write(f'[{duration(progress.elapsed)}] {progress.state()}\n')
        self._last = progress.state()
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:
            self.stream.write('\n')
            self.stream.flush()
            self._drawn = False
