"""``BaseModel``: the contract every model template implements (SingaAuto's, kept as it was).

A template is a Python file (or a zip with a named module file) holding one ``BaseModel``
subclass. The platform imports it only inside train and inference workers.
"""
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Union

from singa.model.knob import BaseKnob

Params = Dict[str, Any]


class BaseModel(ABC):
    """A tunable model template.

    Lifecycle of one trial (train worker): ``Model(**knobs)`` -> ``train(...)`` -> ``evaluate(...)``
    -> ``dump_parameters()`` -> ``destroy()``. Serving (inference worker): ``Model(**knobs)`` ->
    ``load_parameters(params)`` -> ``predict(queries)`` many times -> ``destroy()``. When a worker
    stops it calls the static ``teardown()`` once.

    Knobs: ``get_knob_config()`` declares the space; ``__init__`` receives one realised value per
    knob name, including policy knobs (bools set by the advisor) and conditional knobs that are
    inactive in this trial (their value is ``None``).

    Predictions must be JSON-serialisable. So that the platform can ensemble several templates:

    * classification tasks (``IMAGE_CLASSIFICATION``, ``TABULAR_CLASSIFICATION``): per query, a list
      of class probabilities whose index is the class id (the label index of the dataset helpers);
    * ``TABULAR_REGRESSION``: per query, one float.

    Queries: an image query is a nested list of pixels (H x W or H x W x C); a tabular query is a
    dict of feature name -> value.

    Parameters: ``dump_parameters()`` returns a flat dict whose keys are strings and whose values
    are str, int, float, bool, bytes or numpy arrays (numeric or bool dtype, any shape). They are
    stored without pickle; dtype and shape survive.

    ``score_counts_examples``: whether ``evaluate``'s score is the share of validation examples it
    got right (accuracy), as the task's score is by default. On the tasks whose score is one
    (classification, POS tagging), trials within one example's share of the best score tie with it
    (``singa.ranking``); a template whose score is another figure (F1, AUC, a loss...) sets it
    ``False``, and its jobs then tie only trials within floating-point noise of the best. The
    platform reads it when the template is checked at upload, never by importing the template.
    """

    score_counts_examples: bool = True

    @staticmethod
    @abstractmethod
    def get_knob_config() -> Dict[str, BaseKnob]:
        """The search space: knob name -> knob. Must be a ``@staticmethod``."""

    def __init__(self, **knobs):
        self.knobs = knobs

    @abstractmethod
    def train(self, dataset_path: str, shared_params: Optional[Params] = None, **train_args) -> None:
        """Train on the dataset file at ``dataset_path``.

        ``shared_params``: parameters dumped by an earlier trial of the same template (only when the
        template declares ``PolicyKnob('SHARE_PARAMS')`` and the advisor chose to warm-start).
        ``train_args``: the train job's arguments (e.g. tabular ``features`` and ``target``).
        Call ``logger.report(step, score)`` with intermediate validation scores to let the advisor
        prune a hopeless trial (the call then raises ``TrialPruned``; let it propagate).
        """

    @abstractmethod
    def evaluate(self, dataset_path: str, **kwargs) -> Union[float, Dict[str, float]]:
        """Score on the validation dataset; higher is better. Or several named metrics,
        ``{"accuracy": 0.93, "f1": 0.91}``, that a train job may name as its objectives: the
        ``score`` entry, or else the first, is the trial's score (``singa.objectives``)."""

    @abstractmethod
    def predict(self, queries: List[Any]) -> List[Any]:
        """One JSON-serialisable prediction per query (see the class docstring for conventions)."""

    @abstractmethod
    def dump_parameters(self) -> Params:
        """The trained state as a flat dict (see the class docstring for allowed value types)."""

    @abstractmethod
    def load_parameters(self, params: Params) -> None:
        """Restore the state from ``dump_parameters()`` output, on an instance built with the same knobs."""

    def destroy(self) -> None:
        """Free per-instance resources. Called after each trial and when serving stops."""

    @staticmethod
    def teardown() -> None:
        """Class-wide cleanup, called once when a worker stops."""


def as_score(value) -> float:
    """What ``evaluate()`` returned, as the finite float the platform records as the trial's score
    (a dict of metrics: its ``score`` or first entry; ``InvalidModelError`` otherwise)."""
    from singa.objectives import evaluation_metrics
    return evaluation_metrics(value)[0]
