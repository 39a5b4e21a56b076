"""What the tabular tasks share: a CSV dataset, queries of feature values, the SDK loader.

- **Dataset**: one CSV file with a header row (``csv_format``); ``train_args`` may name the
  ``target`` column (default: the last) and the ``features`` (default: every other column).
- **Query**: an object ``{"feature": value, ...}`` or a row of values in the features' order.
  Only the models know which features they were trained on, so the predictor passes tabular
  queries on as they are; ``tabular_queries_to_array`` refuses one that lacks a feature, naming
  it, and costs only that query its answer.
- **SDK**: ``load_tabular_dataset(path, features, target)`` -> ``(X, y, feature_names)``;
  ``tabular_queries_to_array(queries, feature_names)``.

``TabularClassification`` and ``TabularRegression`` (their own modules) add the prediction format
and the ensembling rule.
"""
import csv
import io
import math
import zipfile
from typing import List, Optional, Sequence, Tuple

import numpy as np

from singa.errors import InvalidDatasetError
from singa.tasks import csv_format
from singa.tasks.base import BaseTask


class TabularTask(BaseTask):
    dataset_extension = 'csv'
    dataset_format = 'a CSV file with a header row; the target is the last column unless train_args name another'
    regression: bool = False

    def check_dataset(self, path: str) -> dict:
        if zipfile.is_zipfile(path):
            raise InvalidDatasetError(f'a {self.name} dataset must be a CSV file, not a zip archive',
                                      field=csv_format.FIELD)
        return csv_format.check_csv(path, regression=self.regression)

    def check_train_args(self, path: str, stat: dict, train_args: dict, dataset: str) -> None:
        csv_format.check_train_args(path, stat, train_args, dataset, self.regression)

    def check_queries(self, queries: list) -> None:
        """Nothing: the models check tabular queries against their features (see above)."""

    def load_dataset(self, path: str, **options):
        return load_tabular_dataset(path, **options)

    def sample_queries(self, path: str, train_args: dict, count: int) -> list:
        X, _, names = load_tabular_dataset(path, train_args.get('features'), train_args.get('target'))
        return [{n: (None if math.isnan(v) else float(v)) for n, v in zip(names, row)} for row in X[:count]]


def load_tabular_dataset(path: str, features: Optional[Sequence[str]] = None,
                         target: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Return ``(X, y, feature_names)``: X float64 (empty cells become NaN); y numeric when every
    target value is a number (int64 if all integral), else strings."""
    header, rows = _read_csv(path)
    target = target or header[-1]
    if target not in header:
        raise InvalidDatasetError(f'target column {target!r} is not in the CSV; columns: {", ".join(header)}')
    features = list(features) if features else [c for c in header if c != target]
    missing = [c for c in features if c not in header]
    if missing:
        raise InvalidDatasetError(f'feature columns not in the CSV: {", ".join(missing)}')
    cols = {c: header.index(c) for c in features + [target]}
    X = np.empty((len(rows), len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        for i, row in enumerate(rows):
            cell = row[cols[name]].strip()
            try:
                X[i, j] = float(cell) if cell else np.nan
            except ValueError:
                raise InvalidDatasetError(f'column {name!r}, row {i + 2}: {cell!r} is not a number') from None
    return X, _target_array([row[cols[target]].strip() for row in rows]), features


def _read_csv(path: str) -> Tuple[List[str], List[List[str]]]:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                csvs = [n for n in archive.namelist() if n.lower().endswith('.csv')]
                if len(csvs) != 1:
                    raise InvalidDatasetError('a zipped tabular dataset must hold exactly one .csv file')
                text = archive.read(csvs[0]).decode('utf-8-sig')
        else:
            with open(path, encoding='utf-8-sig', newline='') as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidDatasetError(f'cannot read the CSV: {e}') from e
    reader = list(csv.reader(io.StringIO(text)))
    if len(reader) < 2:
        raise InvalidDatasetError('the CSV needs a header row and at least one data row')
    header = [h.strip() for h in reader[0]]
    rows = [r for r in reader[1:] if r]
    bad = next((i for i, r in enumerate(rows) if len(r) != len(header)), None)
    if bad is not None:
        raise InvalidDatasetError(f'row {bad + 2} has {len(rows[bad])} cells; the header has {len(header)}')
    return header, rows


def _target_array(values: List[str]) -> np.ndarray:
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return np.array(values)
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


MAX_NAMED_FEATURES = 20   # an error names at most this many features (and counts the rest)


def tabular_queries_to_array(queries: Sequence, feature_names: Sequence[str]) -> np.ndarray:
    """Model input from tabular queries: each a dict ``feature -> value`` or a row of values in
    ``feature_names``' order.

    A dict must name every feature the model was trained on; one that lacks some is refused with
    a ``ValueError`` naming them (so a mistyped or forgotten column is never guessed). A value of
    ``None`` (JSON ``null``) is an explicitly missing value and becomes NaN, as an empty CSV cell
    does in training; templates impute it as they impute those. Keys that are not features (the
    target, an identifier, columns the model was not trained on) are ignored, so a whole dataset
    row can be sent as it is.
    """
    X = np.full((len(queries), len(feature_names)), np.nan)
    for i, q in enumerate(queries):
        which = f'query {i}' if len(queries) > 1 else 'the query'
        if isinstance(q, dict):
            missing = [name for name in feature_names if name not in q]
            if missing:
                raise ValueError(f'{which} lacks {len(missing)} of the {len(feature_names)} features the model '
                                 f'was trained on: {_names(missing)} (send null for a value that is unknown)')
            for j, name in enumerate(feature_names):
                X[i, j] = _number(q[name], which, name)
        else:
            if len(q) != len(feature_names):
                raise ValueError(f'{which} has {len(q)} values; expected {len(feature_names)}')
            X[i] = [_number(v, which, name) for v, name in zip(q, feature_names)]
    return X


def _number(value, which: str, name: str) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{which}: feature {name!r} must be a number or null; got {value!r:.40}') from None


def _names(names: Sequence[str]) -> str:
    shown = ', '.join(names[:MAX_NAMED_FEATURES])
    return shown if len(names) <= MAX_NAMED_FEATURES else f'{shown} and {len(names) - MAX_NAMED_FEATURES} more'
