"""SingaAuto's ``singa_auto.constants``: the same names and values.

Where ours has the same name it is ours (``UserType``, ``TrainJobStatus``...: members compare
equal to SingaAuto's strings; ours may have more, e.g. ``TrialStatus.PRUNED``). SingaAuto's
``RequestsParameters`` described its own REST parameters and is not here (this admin's are in its
OpenAPI document, ``GET /openapi.json``).
"""
from typing import Any, Dict

from singa.constants import (InferenceJobStatus, ModelAccessRight, ServiceStatus, ServiceType, TrainJobStatus,
                             TrialStatus, UserType)


class BudgetOption:
    GPU_COUNT = 'GPU_COUNT'
    TIME_HOURS = 'TIME_HOURS'
    MODEL_TRIAL_COUNT = 'MODEL_TRIAL_COUNT'
    DIST_WORKERS = 'DIST_WORKERS'          # SingaAuto's Kubernetes-only data-parallel training; not here
    WORKERS_PER_MODEL = 'WORKERS_PER_MODEL'


Budget = Dict[str, Any]


class InferenceBudgetOption:
    GPU_COUNT = 'GPU_COUNT'


InferenceBudget = Dict[str, Any]
ModelDependencies = Dict[str, str]


class Tasks:
    IMAGE_DETECTION = 'IMAGE_DETECTION'
    IMAGE_SEGMENTATION = 'IMAGE_SEGMENTATION'
    IMAGE_CLASSIFICATION = 'IMAGE_CLASSIFICATION'
    QUESTION_ANSWERING = 'QUESTION_ANSWERING'
    TEXT_CLASSIFICATION = 'TEXT_CLASSIFICATION'
    POS_TAGGING = 'POS_TAGGING'
    TABULAR_CLASSIFICATION = 'TABULAR_CLASSIFICATION'
    TABULAR_REGRESSION = 'TABULAR_REGRESSION'
    SPEECH_RECOGNITION = 'SPEECH_RECOGNITION'


class ModelDependency:
    TENSORFLOW = 'tensorflow'
    KERAS = 'Keras'
    SCIKIT_LEARN = 'scikit-learn'
    TORCH = 'torch'
    TORCHVISION = 'torchvision'
    SINGA = 'singa'
    XGBOOST = 'xgboost'
    DS_CTCDECODER = 'ds-ctcdecoder'
    NLTK = 'nltk'
    SKLEARN_CRFSUITE = 'sklearn-crfsuite'
    ONNX = 'onnx'


class NodeLabes:
    NodeName = 'kubernetes.io/hostname'
    FreeMemorySum = 'samonitor/FreeMemorySum'
    Gpu = 'samonitor/Gpu'
    GpuSummary = 'samonitor/GpuSummary'
    Health = 'samonitor/Health'
    MaxFreeMemory = 'samonitor/MaxFreeMemory'
    Number = 'samonitor/Number'


class ModelType:
    PYTHON_FILE = 'py'
    ZIP_FILE = 'zip'


__all__ = ['BudgetOption', 'Budget', 'InferenceBudgetOption', 'InferenceBudget', 'ModelDependencies',
           'ModelAccessRight', 'InferenceJobStatus', 'Tasks', 'TrainJobStatus', 'TrialStatus', 'UserType',
           'ServiceType', 'ServiceStatus', 'ModelDependency', 'NodeLabes', 'ModelType']
