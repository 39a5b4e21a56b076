"""TABULAR_CLASSIFICATION: a CSV whose target holds classes; answers are class probabilities.

The dataset, query and SDK are the tabular tasks' (``tabular.py``); the target column's classes
are summarised at upload (``classes``, ``class_count``).

- **Prediction**: a list of ``k`` class probabilities (index = class ``0..k-1``).
- **Ensemble** (``combine.probabilities_rule``): probability vectors are averaged (``AUTO``,
  ``MEAN``; ``WEIGHTED_MEAN`` by validation score), labels voted on; ``VOTE`` always votes.
"""
from typing import Sequence

from singa.constants import EnsembleMethod, Task
from singa.tasks import combine
from singa.tasks.image_classification import check_probabilities
from singa.tasks.tabular import TabularTask


class TabularClassification(TabularTask):
    name = Task.TABULAR_CLASSIFICATION
    regression = False
    score_unit = 'rows'  # accuracy: the share of rows right

    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod):
        return combine.probabilities_rule(values, weights, method)

    def check_predictions(self, predictions: Sequence, queries: Sequence = ()) -> None:
        check_probabilities(predictions, self.name.value)
