"""A TABULAR_CLASSIFICATION template written the way SingaAuto's tabular examples are (KNNClf,
RandomForestClf): ``TabularClfModel``, ``train(dataset_path, features=None, target=None)`` with the
last column as the default target, parameters that dump ``target=self._target`` (None when the
train job names no target) and the features as JSON text, and a ``__main__`` block that passes
``train_args`` and one query as a bare dict. Unlike those it reads CSV files with the standard
library (pandas is not installed here), and its ``get_knob_config`` is an instance method, which
SingaAuto's loader tolerated (onnx_tiny_yolov2, food_objection_base_model). A test fixture."""
import base64
import csv
import json
import pickle

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from singa_auto.constants import ModelDependency
from singa_auto.model import CategoricalKnob, IntegerKnob, TabularClfModel, logger
from singa_auto.model.dev import test_model_class


class SaTabularKnn(TabularClfModel):
    '''
    Implements a k-nearest neighbours classifier for TABULAR_CLASSIFICATION
    '''

    def get_knob_config(self):
        return {
            'n_neighbors': IntegerKnob(3, 12),
            'weights': CategoricalKnob(['uniform', 'distance']),
        }

    def __init__(self, **knobs):
        self._knobs = knobs
        self.__dict__.update(knobs)
        self._clf = KNeighborsClassifier(n_neighbors=self._knobs.get('n_neighbors'),
                                         weights=self._knobs.get('weights'))

    def train(self, dataset_path, features=None, target=None, **kwargs):
        self._features = features
        self._target = target
        (X, y) = self._extract_xy(dataset_path)
        self._clf.fit(X, y)
        logger.log('Train accuracy: {}'.format(self._clf.score(X, y)))

    def evaluate(self, dataset_path, **kwargs):
        (X, y) = self._extract_xy(dataset_path)
        return self._clf.score(X, y)

    def predict(self, queries):
        X = [[float(query[name]) for name in self._columns] for query in queries]
        return self._clf.predict_proba(X).tolist()

    def dump_parameters(self):
        params = {}
        params['clf_base64'] = base64.b64encode(pickle.dumps(self._clf)).decode('utf-8')
        params['features'] = json.dumps(self._features)
        params['target'] = self._target
        params['columns'] = json.dumps(self._columns)
        return params

    def load_parameters(self, params):
        self._clf = pickle.loads(base64.b64decode(params['clf_base64'].encode('utf-8')))
        self._features = json.loads(params['features'])
        self._target = params['target']
        self._columns = json.loads(params['columns'])

    def _extract_xy(self, csv_path):
        with open(csv_path, newline='') as f:
            rows = list(csv.DictReader(f))
        header = list(rows[0].keys())
        target = self._target if self._target is not None else header[-1]
        self._columns = self._features if self._features is not None else [c for c in header if c != target]
        X = np.array([[float(row[c]) for c in self._columns] for row in rows])
        y = np.array([int(row[target]) for row in rows])
        return (X, y)


if __name__ == '__main__':
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--train_path', type=str, default='data/iris_train.csv')
    parser.add_argument('--val_path', type=str, default='data/iris_val.csv')
    (args, _) = parser.parse_known_args()
    test_model_class(model_file_path=__file__,
                     model_class='SaTabularKnn',
                     task='TABULAR_CLASSIFICATION',
                     dependencies={ModelDependency.SCIKIT_LEARN: '1.9.1'},
                     train_dataset_path=args.train_path,
                     val_dataset_path=args.val_path,
                     queries={
                         'sepal_length_cm': 5.1,
                         'sepal_width_cm': 3.5,
                         'petal_length_cm': 1.4,
                         'petal_width_cm': 0.2
                     })
