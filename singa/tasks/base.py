"""``BaseTask``: everything one task means, in one module per task.

A task (``IMAGE_CLASSIFICATION``, ``POS_TAGGING``...) fixes four formats: what a dataset is, what
a query is, what a prediction is, and how the predictions of several models for one query become
one. Each task's module (``singa/tasks/<task>.py``) holds all of them in a ``BaseTask`` subclass,
and every part of the platform asks the task instead of comparing task names:

- the dataset format and its statistics (``check_dataset``, ``dataset_extension``): the admin, at
  upload; a train job's ``train_args`` against its datasets (``check_train_args``): the admin;
- the query format (``check_queries``): the predictor's edge, before anything is batched;
- the ensembling rule (``ensemble``): the predictor, for each query;
- the SDK loader (``load_dataset`` and the module's functions): templates, through ``singa.model``;
- the prediction format (``check_predictions``, ``sample_queries``): the local harness.

``get_task(name)`` (``singa.tasks``) returns the one instance of a task.
"""
from abc import ABC, abstractmethod
from typing import Any, Optional, Sequence

from singa.constants import EnsembleMethod, Task


class BaseTask(ABC):
    """The contract of a task. Subclasses are stateless; one instance of each is shared.

    - ``name``: the task (a ``Task`` member), as the API, the SDK and SingaAuto spell it.
    - ``dataset_extension``: ``'zip'`` or ``'csv'``, how the admin stores an upload.
    - ``dataset_format``: one sentence saying what a dataset file is (for the API's documentation).
    - ``check_dataset(path)``: read an uploaded file, never extracting it nor running anything in
      it, and return its statistics, a JSON-serialisable dict with a ``format`` key; or raise
      ``InvalidDatasetError`` (field ``dataset``) that says what is wrong and where (a line, a
      member of the archive). Whatever this accepts, ``load_dataset`` reads.
    - ``check_train_args(path, stat, train_args, dataset)``: check a train job's ``train_args``
      against one of its datasets (``stat`` is what ``check_dataset`` returned, ``dataset`` names
      it in messages); raise ``InvalidRequestError`` with field ``train_args``. Default: nothing.
    - ``check_queries(queries)``: at the predictor's edge, before anything is queued: raise
      ``InvalidRequestError`` naming the query (by index when there are several) and what is
      wrong with it. Pure Python and linear in the body (the body parser has already bounded its
      size and depth); the models still see only what passed.
    - ``ensemble(values, weights, method)``: one answer from two or more models' answers
      ``values`` for one query; ``weights`` are all 1 unless ``method`` is ``WEIGHTED_MEAN`` (then
      the models' validation scores, clipped at 0, never all 0). Each task documents its rule and
      what each ``EnsembleMethod`` means for it; it never raises on a model's odd answer (it is
      outvoted or left out).
    - ``load_dataset(path, **options)``: the SDK's loader for the task's datasets, what templates
      call (re-exported by ``singa.model``); raises ``InvalidDatasetError``.
    - ``check_predictions(predictions, queries)``: the local harness's check that ``predict()``
      answered ``queries`` in the task's prediction format; raise ``InvalidModelError``.
    - ``sample_queries(path, train_args, count)``: a few queries in the predictor's format, taken
      from a dataset (the local harness predicts them before and after reloading parameters).
    - ``score_unit``: when the task's score is the share of examples right (accuracy), the key of
      ``check_dataset``'s statistics that counts the examples (``rows``, ``images``, ``tokens``);
      ``''`` when it is not (R^2, mAP: no step of one example). ``score_resolution(stat)`` is then
      one example's share, what a train job takes as its tie tolerance (``singa.ranking``).
    """
    name: Task
    dataset_extension: str = 'zip'
    dataset_format: str = ''
    score_unit: str = ''

    @abstractmethod
    def check_dataset(self, path: str) -> dict:
        """The statistics of a valid dataset file, else ``InvalidDatasetError``."""

    def check_train_args(self, path: str, stat: dict, train_args: dict, dataset: str) -> None:
        """Nothing to check, unless the task's templates read ``train_args`` the platform knows."""

    @abstractmethod
    def check_queries(self, queries: list) -> None:
        """``InvalidRequestError`` for the first malformed query, naming it and its fault."""

    @abstractmethod
    def ensemble(self, values: list, weights: list[float], method: EnsembleMethod) -> Any:
        """One answer from several models' answers to one query."""

    @abstractmethod
    def load_dataset(self, path: str, **options):
        """The SDK's loader (see the task's module for what it returns)."""

    @abstractmethod
    def check_predictions(self, predictions: Sequence, queries: Sequence) -> None:
        """``InvalidModelError`` unless every prediction has the task's prediction format."""

    @abstractmethod
    def sample_queries(self, path: str, train_args: dict, count: int) -> list:
        """``count`` queries (or fewer) in the predictor's format, from the dataset at ``path``."""

    def score_resolution(self, stat: dict) -> Optional[float]:
        """One example's share of the score on a dataset of statistics ``stat`` (1 / its examples),
        or None when the score counts no examples or ``stat`` does not say how many there are."""
        count = stat.get(self.score_unit) if self.score_unit else None
        return 1 / count if isinstance(count, int) and count > 0 else None

    def __repr__(self) -> str:
        return f'<task {self.name.value}>'


def which(index: int, count: int) -> str:
    """How a message names a query: ``the query`` alone, ``query 3`` among several."""
    return 'the query' if count == 1 else f'query {index}'


def describe(value) -> str:
    """How a message names a JSON value's kind."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true or false'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, dict):
        return 'an object'
    if isinstance(value, list):
        return 'a list' if value else 'an empty list'
    return f'a {type(value).__name__}'
