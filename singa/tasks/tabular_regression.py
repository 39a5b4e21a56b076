"""TABULAR_REGRESSION: a CSV whose target holds finite numbers; answers are numbers.

The dataset, query and SDK are the tabular tasks' (``tabular.py``); the target column must hold a
finite number on every row, summarised at upload (``target_min``, ``target_max``, ``target_mean``).

- **Prediction**: a number.
- **Ensemble** (``combine.numeric_rule``): numbers (or equally long lists of numbers) are averaged
  (``WEIGHTED_MEAN`` by validation score); anything else, and everything under ``VOTE``, is voted on.
"""
from typing import Sequence

from singa.constants import EnsembleMethod, Task
from singa.errors import InvalidModelError
from singa.tasks import combine
from singa.tasks.tabular import TabularTask


class TabularRegression(TabularTask):
    name = Task.TABULAR_REGRESSION
    regression = True

    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod):
        return combine.numeric_rule(values, weights, method)

    def check_predictions(self, predictions: Sequence, queries: Sequence = ()) -> None:
        for i, p in enumerate(predictions):
            if not combine.is_number(p):
                raise InvalidModelError(f'prediction {i}: a {self.name} prediction must be a number; '
                                        f'got {str(p)[:80]}')
