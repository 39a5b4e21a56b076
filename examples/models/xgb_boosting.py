"""Gradient-boosted trees for TABULAR_CLASSIFICATION with XGBoost: a package the platform does not
ship. Declare it when uploading and the platform installs it for the template (see "Template
dependencies" in the README), in an environment of its own shared by every template that declares
the same::

    client.create_model('xgb', 'TABULAR_CLASSIFICATION', 'examples/models/xgb_boosting.py',
                        'XgbBoostingClf', dependencies=['xgboost-cpu>=2.1'])

``xgboost-cpu`` is XGBoost's CPU-only build: a small wheel that carries its own OpenMP library (the
``xgboost`` wheel also pulls NVIDIA's NCCL, hundreds of megabytes). The trained model is kept in
XGBoost's own JSON format, never pickled.
"""
import json

import numpy as np
import xgboost

from singa.model import BaseModel, FixedKnob, FloatKnob, IntegerKnob, logger
from singa.model.dataset import load_tabular_dataset, tabular_queries_to_array

DEPENDENCIES = ['xgboost-cpu>=2.1']


class XgbBoostingClf(BaseModel):
    @staticmethod
    def get_knob_config():
        return {
            'rounds': IntegerKnob(10, 200, is_exp=True),
            'max_depth': IntegerKnob(2, 8),
            'learning_rate': FloatKnob(0.01, 0.5, is_exp=True),
            'subsample': FloatKnob(0.5, 1.0),
            'seed': FixedKnob(0),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._booster = None
        self._features = []
        self._n_classes = 0

    def train(self, dataset_path, shared_params=None, features=None, target=None, **train_args):
        X, y, self._features = load_tabular_dataset(dataset_path, features, target)
        y = y.astype(np.int64)
        self._n_classes = max(int(y.max()) + 1, 2)
        k = self.knobs
        params = {'objective': 'multi:softprob', 'num_class': self._n_classes, 'max_depth': k['max_depth'],
                  'eta': k['learning_rate'], 'subsample': k['subsample'], 'seed': k['seed'], 'nthread': 1,
                  'tree_method': 'hist'}
        self._booster = xgboost.train(params, xgboost.DMatrix(X, label=y), num_boost_round=k['rounds'])
        logger.log(f'Trained XGBoost {xgboost.__version__}: {k["rounds"]} rounds on {len(X)} rows, '
                   f'{X.shape[1]} features')

    def evaluate(self, dataset_path, features=None, target=None, **kwargs) -> float:
        X, y, _ = load_tabular_dataset(dataset_path, features or self._features, target)
        accuracy = float(np.mean(self._probabilities(X).argmax(axis=1) == y.astype(np.int64)))
        logger.log(accuracy=accuracy)
        return accuracy

    def predict(self, queries):
        X = tabular_queries_to_array(queries, self._features)
        return [[float(p) for p in row] for row in self._probabilities(X)]

    def dump_parameters(self):
        return {'booster': bytes(self._booster.save_raw('json')), 'features': json.dumps(self._features),
                'n_classes': self._n_classes}

    def load_parameters(self, params):
        self._booster = xgboost.Booster(params={'nthread': 1})
        self._booster.load_model(bytearray(params['booster']))
        self._features = json.loads(params['features'])
        self._n_classes = int(params['n_classes'])

    def _probabilities(self, X) -> np.ndarray:
        return self._booster.predict(xgboost.DMatrix(X)).reshape(len(X), self._n_classes)
