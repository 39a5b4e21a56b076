"""The upload check of the tabular tasks' datasets: a CSV file, summarised by its target column.

A UTF-8 CSV file with a header row (unique, non-empty names), at least one data row and the same
number of columns on every row. The target is the column a train job's ``train_args['target']``
names, by default the last one (SingaAuto's rule); it needs a value on every row, a finite number
for regression. The upload cannot know the train job's choice, so it summarises the last column
when that column can be a target, and otherwise records why not (``target_error``);
``check_train_args`` then holds a train job's ``features`` and ``target`` against its datasets.
"""
import csv
import math
from collections import Counter
from typing import Optional

from singa.errors import InvalidDatasetError, InvalidRequestError

FIELD = 'dataset'
MAX_REPORTED_CLASSES = 1000
MAX_REPORTED_COLUMNS = 200
ARGS = 'train_args'


def check_csv(path: str, regression: bool, target: Optional[str] = None) -> dict:
    """Check the CSV and summarise its target column: ``target`` (refused unless usable), or by
    default the last column (summarised if usable, else ``target_error`` says why not)."""
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            return _scan_csv(csv.reader(f), regression, target)
    except UnicodeDecodeError as e:
        raise InvalidDatasetError(f'the CSV file is not UTF-8 text (byte {e.start})', field=FIELD) from None


def check_train_args(path: str, stat: dict, train_args: dict, dataset: str, regression: bool) -> None:
    """Raise ``InvalidRequestError`` (field ``train_args``) unless the ``features`` and ``target``
    that ``train_args`` names are columns of the tabular ``dataset`` at ``path`` and its target (by
    default the last column) can be one. A target other than the one the upload summarised is
    checked now, reading the file."""
    target, features = train_args.get('target'), train_args.get('features')
    if target is not None and (not isinstance(target, str) or not target):
        raise InvalidRequestError('train_args target must be a column name', field=ARGS)
    if features is not None and (not isinstance(features, list) or not all(isinstance(c, str) for c in features)):
        raise InvalidRequestError('train_args features must be a list of column names', field=ARGS)
    with open(path, newline='', encoding='utf-8-sig') as f:
        header = [h.strip() for h in next(csv.reader(f), [])]
    missing = [c for c in ([target] if target else []) + (features or []) if c not in header]
    if missing:
        raise InvalidRequestError(f'{dataset} has no column {", ".join(map(repr, missing))}; its columns: '
                                  f'{", ".join(header[:MAX_REPORTED_COLUMNS])}', field=ARGS)
    try:
        if target is None or target == stat.get('target'):
            if stat.get('target') is None and stat.get('target_error'):
                raise InvalidDatasetError(stat['target_error'])
        else:
            check_csv(path, regression, target)
    except InvalidDatasetError as e:
        raise InvalidRequestError(f'{dataset}: {e.message}; name its target column in train_args',
                                  field=ARGS) from None


def _scan_csv(reader, regression: bool, target_name: Optional[str] = None) -> dict:
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise InvalidDatasetError('the CSV file is empty; it needs a header row', field=FIELD)
        header = [h.strip() for h in header]
        if '' in header:
            raise InvalidDatasetError(f'the CSV header has an empty column name (column {header.index("") + 1})',
                                      field=FIELD)
        duplicates = sorted(n for n, c in Counter(header).items() if c > 1)
        if duplicates:
            raise InvalidDatasetError(f'the CSV header repeats column {duplicates[0]!r}', field=FIELD)
        column = header.index(target_name) if target_name in header else len(header) - 1
        target = _TargetSummary(header[column], regression, lenient=target_name is None)
        rows = 0
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InvalidDatasetError(f'CSV line {reader.line_num} has {len(row)} columns; the header has '
                                          f'{len(header)}', field=FIELD)
            target.add(row[column].strip(), reader.line_num)
            rows += 1
    except csv.Error as e:
        raise InvalidDatasetError(f'CSV line {reader.line_num} is not valid CSV: {e}', field=FIELD) from None
    if rows == 0:
        raise InvalidDatasetError('the CSV file has a header but no data rows', field=FIELD)
    stat = {'format': 'csv', 'rows': rows, 'columns': len(header),
            'column_names': header[:MAX_REPORTED_COLUMNS]}
    stat.update(target.summary())
    return stat


class _TargetSummary:
    """Running statistics of the target column: class counts, or min/max/mean for regression. A
    value that cannot be a target raises ``InvalidDatasetError``; when ``lenient``, it is recorded
    instead and the column is not summarised."""

    def __init__(self, name: str, regression: bool, lenient: bool = False):
        self.name = name
        self.regression = regression
        self.lenient, self.error = lenient, None
        self.counts = Counter()
        self.too_many = False
        self.n, self.total, self.low, self.high = 0, 0.0, math.inf, -math.inf

    def add(self, value: str, line: int) -> None:
        if self.error is not None:
            return
        try:
            self._add(value, line)
        except InvalidDatasetError as e:
            if not self.lenient:
                raise
            self.error = f'the last column cannot be the default target: {e.message}'

    def _add(self, value: str, line: int) -> None:
        if not value:
            raise InvalidDatasetError(f'CSV line {line} has no value in the target column {self.name!r}',
                                      field=FIELD)
        if not self.regression:
            if value in self.counts or len(self.counts) < MAX_REPORTED_CLASSES:
                self.counts[value] += 1
            else:
                self.too_many = True
            return
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidDatasetError(f'CSV line {line}: the regression target {self.name!r} must be a finite '
                                      f'number; got {value!r}', field=FIELD)
        self.n += 1
        self.total += number
        self.low, self.high = min(self.low, number), max(self.high, number)

    def summary(self) -> dict:
        if self.error is not None:
            return {'target': None, 'target_error': self.error}
        if self.regression:
            return {'target': self.name, 'target_min': self.low, 'target_max': self.high,
                    'target_mean': self.total / self.n}
        summary = {'target': self.name, 'classes': dict(sorted(self.counts.items())), 'class_count': len(self.counts)}
        if self.too_many:
            summary['classes_truncated'] = True
            summary.pop('class_count')
        return summary
