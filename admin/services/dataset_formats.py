"""The format of each task's datasets, checked at upload; the checks return the dataset's statistics.

- ``IMAGE_CLASSIFICATION``: a zip (see ``image_datasets``).
- ``TABULAR_CLASSIFICATION`` / ``TABULAR_REGRESSION``: a UTF-8 CSV file with a header row, at least one
  data row and the same number of columns on every row. The target is the last column (SingaAuto's
  default for ``train_args['target']``); for regression it must be a finite number on every row.

A file that does not match raises ``InvalidDatasetError`` (field ``dataset``) that says what is wrong.
"""
import csv
import math
import zipfile
from collections import Counter

from singa.admin.services.image_datasets import FIELD, check_image_zip
from singa.constants import Task
from singa.errors import InvalidDatasetError

MAX_REPORTED_CLASSES = 1000
MAX_REPORTED_COLUMNS = 200


def dataset_extension(task: Task) -> str:
    return 'zip' if task == Task.IMAGE_CLASSIFICATION else 'csv'


def check_dataset(task: Task, path: str) -> dict:
    """Check the file at ``path`` against ``task``'s format and return its statistics."""
    is_zip = zipfile.is_zipfile(path)
    if task == Task.IMAGE_CLASSIFICATION:
        if not is_zip:
            raise InvalidDatasetError('an IMAGE_CLASSIFICATION dataset must be a zip archive', field=FIELD)
        return check_image_zip(path)
    if is_zip:
        raise InvalidDatasetError(f'a {task} dataset must be a CSV file, not a zip archive', field=FIELD)
    return check_csv(path, regression=task == Task.TABULAR_REGRESSION)


def check_csv(path: str, regression: bool) -> dict:
    try:
        with open(path, newline='', encoding='utf-8-sig') as f:
            return _scan_csv(csv.reader(f), regression)
    except UnicodeDecodeError as e:
        raise InvalidDatasetError(f'the CSV file is not UTF-8 text (byte {e.start})', field=FIELD) from None


def _scan_csv(reader, regression: bool) -> dict:
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
        target = _TargetSummary(header[-1], regression)
        rows = 0
        for row in reader:
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InvalidDatasetError(f'CSV line {reader.line_num} has {len(row)} columns; the header has '
                                          f'{len(header)}', field=FIELD)
            target.add(row[-1].strip(), reader.line_num)
            rows += 1
    except csv.Error as e:
        raise InvalidDatasetError(f'CSV line {reader.line_num} is not valid CSV: {e}', field=FIELD) from None
    if rows == 0:
        raise InvalidDatasetError('the CSV file has a header but no data rows', field=FIELD)
    stat = {'format': 'csv', 'rows': rows, 'columns': len(header),
            'column_names': header[:MAX_REPORTED_COLUMNS], 'target': header[-1]}
    stat.update(target.summary())
    return stat


class _TargetSummary:
    """Running statistics of the target column: class counts, or min/max/mean for regression."""

    def __init__(self, name: str, regression: bool):
        self.name = name
        self.regression = regression
        self.counts = Counter()
        self.too_many = False
        self.n, self.total, self.low, self.high = 0, 0.0, math.inf, -math.inf

    def add(self, value: str, line: int) -> None:
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
        if self.regression:
            return {'target_min': self.low, 'target_max': self.high, 'target_mean': self.total / self.n}
        summary = {'classes': dict(sorted(self.counts.items())), 'class_count': len(self.counts)}
        if self.too_many:
            summary['classes_truncated'] = True
            summary.pop('class_count')
        return summary
