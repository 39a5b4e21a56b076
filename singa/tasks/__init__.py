"""The task registry: one module per task, one factory.

``get_task(name)`` returns the task's ``BaseTask`` (see ``base.py`` for the contract); an unknown
name raises ``InvalidRequestError`` listing the known ones. A new task is a module here with a
``BaseTask`` subclass, a ``Task`` member in ``singa.constants`` and a line in ``_TASKS``.
"""
from singa.constants import Task
from singa.tasks.base import BaseTask
from singa.tasks.image_classification import ImageClassification
from singa.tasks.image_detection import ImageDetection
from singa.tasks.pos_tagging import PosTagging
from singa.tasks.tabular_classification import TabularClassification
from singa.tasks.tabular_regression import TabularRegression

_TASKS: dict[Task, BaseTask] = {t.name: t for t in (ImageClassification(), TabularClassification(),
                                                     TabularRegression(), PosTagging(), ImageDetection())}
assert set(_TASKS) == set(Task), 'every Task member has a module'


def get_task(name) -> BaseTask:
    """The task named ``name`` (a ``Task`` or its value)."""
    return _TASKS[Task.parse(name, 'task')]


__all__ = ['BaseTask', 'get_task']
