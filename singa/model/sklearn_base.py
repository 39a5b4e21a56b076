"""``SklearnTabularModel``: a base for scikit-learn templates on tabular tasks.

A template subclasses it, declares ``get_knob_config()`` and implements ``build_estimator()``;
training, evaluation (accuracy, or R^2 for regression), prediction in the platform's conventions
and parameter dumping come from here. Fitted estimators are saved with ``skops.io`` (a format
that loads without running pickle); only the types named in ``trusted_types`` (plus the ones
skops trusts by default) are accepted on load. Templates using it list ``skops`` in their
dependencies. Missing feature values (empty CSV cells, ``null`` in a query) are imputed with the
training means; a query that lacks a feature the model was trained on is refused, naming it
(``tabular_queries_to_array``).
"""
import json
from abc import abstractmethod
from typing import List, Sequence

import numpy as np

from singa.errors import InvalidParamsError
from singa.model.dataset import load_tabular_dataset, tabular_queries_to_array
from singa.model.log import logger
from singa.model.model import BaseModel

ALWAYS_TRUSTED = ('numpy.dtype',)   # the imputer's fitted dtype; a plain data type


class SklearnTabularModel(BaseModel):
    is_classifier: bool = True
    scale_features: bool = False          # put a StandardScaler before the estimator
    trusted_types: Sequence[str] = ()     # extra skops types to trust on load (e.g. tree internals)

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._pipeline = None
        self._features: List[str] = []
        self._n_classes = 0

    @abstractmethod
    def build_estimator(self):
        """A fresh, unfitted scikit-learn estimator configured from ``self.knobs``."""

    def train(self, dataset_path, shared_params=None, features=None, target=None, **train_args):
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y, self._features = load_tabular_dataset(dataset_path, features, target)
        steps = [SimpleImputer(strategy='mean')] + ([StandardScaler()] if self.scale_features else [])
        self._pipeline = make_pipeline(*steps, self.build_estimator())
        if self.is_classifier:
            y = y.astype(np.int64)
            self._n_classes = int(y.max()) + 1
        self._pipeline.fit(X, y)
        logger.log(f'Trained {type(self._pipeline[-1]).__name__} on {len(X)} rows, {X.shape[1]} features')

    def evaluate(self, dataset_path, features=None, target=None, **kwargs) -> float:
        X, y, _ = load_tabular_dataset(dataset_path, features or self._features, target)
        score = float(self._pipeline.score(X, y.astype(np.int64) if self.is_classifier else y))
        logger.log(score=score)
        return score

    def predict(self, queries):
        X = tabular_queries_to_array(queries, self._features)
        if not self.is_classifier:
            return [float(v) for v in self._pipeline.predict(X)]
        proba = self._pipeline.predict_proba(X)
        full = np.zeros((len(X), self._n_classes))
        full[:, self._pipeline.classes_.astype(np.int64)] = proba
        return [[float(p) for p in row] for row in full]

    def dump_parameters(self):
        import skops.io
        return {'pipeline': skops.io.dumps(self._pipeline), 'features': json.dumps(self._features),
                'n_classes': self._n_classes}

    def load_parameters(self, params):
        import skops.io
        data = params['pipeline']
        trusted = set(ALWAYS_TRUSTED) | set(self.trusted_types)
        untrusted = set(skops.io.get_untrusted_types(data=data)) - trusted
        if untrusted:
            raise InvalidParamsError(f'saved estimator holds untrusted types: {", ".join(sorted(untrusted))}')
        self._pipeline = skops.io.loads(data, trusted=sorted(trusted))
        self._features = json.loads(params['features'])
        self._n_classes = int(params['n_classes'])
