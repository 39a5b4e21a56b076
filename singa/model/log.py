"""The model logger: messages, metrics, plot definitions and intermediate scores of a trial.

Models use the module-level ``logger``::

    from singa.model import logger
    logger.define_loss_plot()
    logger.log_loss(loss, epoch)
    logger.report(epoch, val_accuracy)   # may raise TrialPruned

Every line is a JSON-able dict: ``{"type": "MESSAGE", "time": ISO-8601, "message": ...}``,
``{"type": "METRICS", "time", "metrics": {name: number}}`` or
``{"type": "PLOT", "time", "title", "metrics": [names], "x_axis": name or null}`` (x axis = time
when null).

A worker plugs in with ``logger.attach(on_line, on_report)`` before a trial and ``detach()`` after:
``on_line(line)`` receives every line; ``on_report(step, score)`` returns True to prune, and then
``report`` raises ``singa.errors.TrialPruned``. When nothing is attached, lines go to the Python
logger ``singa.model`` and ``report`` never prunes. One trial at a time per process.
"""
import datetime
import json
import logging
import math
import numbers
import threading
from typing import Callable, Iterable, Optional

from singa.errors import TrialPruned

_py_logger = logging.getLogger('singa.model')

LineHandler = Callable[[dict], None]
ReportHandler = Callable[[int, float], bool]


class LogType:
    MESSAGE = 'MESSAGE'
    METRICS = 'METRICS'
    PLOT = 'PLOT'


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds')


def _metric_value(name: str, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f'metric {name!r} must be a number; got {type(value).__name__}')
    value = float(value) if not isinstance(value, numbers.Integral) else int(value)
    return value if not (isinstance(value, float) and not math.isfinite(value)) else None


class ModelLogger:
    def __init__(self):
        self._lock = threading.RLock()
        self._on_line: Optional[LineHandler] = None
        self._on_report: Optional[ReportHandler] = None

    # The worker's side.
    def attach(self, on_line: LineHandler, on_report: ReportHandler) -> None:
        """Send lines to ``on_line`` and intermediate scores to ``on_report`` (True = prune)."""
        with self._lock:
            self._on_line, self._on_report = on_line, on_report

    def detach(self) -> None:
        with self._lock:
            self._on_line = self._on_report = None

    @property
    def attached(self) -> bool:
        return self._on_line is not None

    # The model's side.
    def log(self, msg: str = '', **metrics) -> None:
        """Log a message and/or named numeric metrics (numpy scalars are fine; NaN becomes null)."""
        if msg:
            self._emit({'type': LogType.MESSAGE, 'time': _now(), 'message': str(msg)})
        if metrics:
            values = {k: _metric_value(k, v) for k, v in metrics.items()}
            self._emit({'type': LogType.METRICS, 'time': _now(), 'metrics': values})

    def define_plot(self, title: str, metrics: Iterable[str], x_axis: Optional[str] = None) -> None:
        """Declare a plot of the named metrics against ``x_axis`` (a metric name) or time."""
        metrics = [str(m) for m in metrics]
        if not metrics:
            raise ValueError('define_plot needs at least one metric name')
        self._emit({'type': LogType.PLOT, 'time': _now(), 'title': str(title), 'metrics': metrics,
                    'x_axis': None if x_axis is None else str(x_axis)})

    def define_loss_plot(self) -> None:
        self.define_plot('Loss over epochs', ['loss'], x_axis='epoch')

    def log_loss(self, loss: float, epoch: int) -> None:
        self.log(loss=loss, epoch=epoch)

    def report(self, step: int, score: float) -> None:
        """An intermediate validation score (higher is better) after ``step`` (e.g. the epoch).

        Raises ``TrialPruned`` when the advisor decides this trial should stop.
        """
        if isinstance(step, bool) or not isinstance(step, numbers.Integral):
            raise TypeError(f'report step must be an int; got {type(step).__name__}')
        score = _metric_value('score', score)
        self._emit({'type': LogType.METRICS, 'time': _now(),
                    'metrics': {'step': int(step), 'intermediate_score': score}})
        with self._lock:
            on_report = self._on_report
        if on_report is not None and score is not None and on_report(int(step), float(score)):
            self.log(f'Trial pruned at step {step} (intermediate score {score:.6g})')
            raise TrialPruned(f'pruned at step {step}', details={'step': int(step), 'score': score})

    def _emit(self, line: dict) -> None:
        with self._lock:
            on_line = self._on_line
        if on_line is not None:
            on_line(line)
        else:
            _py_logger.info(json.dumps(line))


logger = ModelLogger()
