"""How the ``singa`` command prints: the admin's JSON with ``--json``, tables and fields for people.

With ``--json`` a command prints one JSON document on standard output, the object or list the
admin answered with (its shape is the admin's ``/openapi.json``), and an error as one JSON object
on standard error: ``{"error": {"type", "message", ...}, "exit_code": N}``. Without it, lists are
tables, objects are ``field: value`` lines, and notes go to standard error.
"""
import json
import sys
from datetime import datetime
from typing import Any, Callable, Optional, Sequence, TextIO, Union

Getter = Union[str, Callable[[dict], Any]]


class Output:
    def __init__(self, as_json: bool, stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None):
        self.as_json = as_json
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    def result(self, data: Any, human: Optional[Callable[[], None]] = None) -> None:
        """Print ``data`` as JSON with ``--json``; otherwise call ``human`` (default: ``data`` as fields)."""
        if self.as_json:
            self.json(data)
        elif human is not None:
            human()
        elif isinstance(data, dict):
            self.fields(data)
        else:
            self.line(str(data))

    def json(self, data: Any, compact: bool = False) -> None:
        text = json.dumps(data, separators=(',', ':')) if compact else json.dumps(data, indent=2)
        print(text, file=self.stdout, flush=True)

    def line(self, text: str = '') -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def table(self, rows: Sequence[dict], columns: Sequence[tuple[str, Getter]], empty: str = 'none') -> None:
        """Rows as aligned columns under a header; ``empty`` goes to standard error when there are none."""
        if not rows:
            self.note(empty)
            return
        cells = [[title for title, _ in columns]]
        cells += [[cell(_get(row, getter)) for _, getter in columns] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
        for r in cells:
            self.line('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())

    def fields(self, data: dict, names: Optional[Sequence[Union[str, tuple[str, Getter]]]] = None) -> None:
        """``name: value`` lines, aligned; ``names`` picks and orders them (``(label, getter)`` pairs too)."""
        pairs = []
        for item in names if names is not None else list(data):
            label, getter = item if isinstance(item, tuple) else (item, item)
            pairs.append((label, cell(_get(data, getter))))
        width = max((len(label) for label, _ in pairs), default=0) + 1
        for label, value in pairs:
            self.line(f'{label + ":":<{width}} {value}'.rstrip())

    def hint(self, text: str) -> None:
        """A suggestion after an error, for people only (never with ``--json``)."""
        if not self.as_json:
            self.note(f'hint: {text}')

    def error(self, error: dict, exit_code: int, command: str) -> None:
        if self.as_json:
            print(json.dumps({'error': error, 'exit_code': exit_code}), file=self.stderr, flush=True)
        else:
            self.note(f'singa {command}: {error["message"]}')


def _get(row: dict, getter: Getter) -> Any:
    return getter(row) if callable(getter) else row.get(getter)


def cell(value: Any) -> str:
    """One value as people read it: times local and to the second, scores to 4 places, '-' for none."""
    if value is None:
        return '-'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, float):
        return f'{value:.4f}'
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(', ', ': '))
    text = str(value)
    moment = parse_time(text)
    return moment.astimezone().strftime('%Y-%m-%d %H:%M:%S') if moment is not None else text


def parse_time(text: Any) -> Optional[datetime]:
    """An ISO 8601 time with a time zone (as the admin sends them), else None."""
    if not isinstance(text, str) or len(text) < 19 or text[4] != '-' or 'T' not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def duration(seconds: Optional[float]) -> str:
    """``h:mm:ss`` or ``m:ss``."""
    if seconds is None:
        return '-'
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes}:{secs:02d}'
