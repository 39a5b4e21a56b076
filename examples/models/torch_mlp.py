"""A PyTorch multilayer perceptron for TABULAR_CLASSIFICATION (CPU, seconds per trial).

Uses ``EARLY_STOP`` (few epochs while searching, full training at the end) and reports the
held-out accuracy after every epoch, so the advisor can prune hopeless trials.
"""
import json

import numpy as np
import torch
from torch import nn

from singa.model import BaseModel, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob
from singa.model.dataset import load_tabular_dataset, tabular_queries_to_array
from singa.model.torch_helpers import (accuracy, fit_classifier, holdout_split, params_to_state, predict_proba,
                                       state_to_params)

DEPENDENCIES = {'torch': '2.13.0'}
torch.set_num_threads(1)   # tiny networks: threads only contend with the other workers on the host


class TorchMlpClf(BaseModel):
    @staticmethod
    def get_knob_config():
        return {
            'hidden_units': IntegerKnob(16, 256, is_exp=True),
            'hidden_layers': IntegerKnob(1, 3),
            'learning_rate': FloatKnob(1e-4, 3e-2, is_exp=True),
            'weight_decay': FloatKnob(1e-6, 1e-2, is_exp=True),
            'batch_size': FixedKnob(64),
            'max_epochs': FixedKnob(30),
            'early_stop': PolicyKnob('EARLY_STOP'),
            'seed': FixedKnob(0),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._net = None
        self._features, self._mean, self._std, self._n_classes = [], None, None, 0

    def _build(self, n_in: int, n_out: int) -> nn.Module:
        layers, width = [], n_in
        for _ in range(self.knobs['hidden_layers']):
            layers += [nn.Linear(width, self.knobs['hidden_units']), nn.ReLU()]
            width = self.knobs['hidden_units']
        return nn.Sequential(*layers, nn.Linear(width, n_out))

    def train(self, dataset_path, shared_params=None, features=None, target=None, **train_args):
        torch.manual_seed(self.knobs['seed'])
        X, y, self._features = load_tabular_dataset(dataset_path, features, target)
        X = np.nan_to_num(X)
        self._mean, self._std = X.mean(axis=0), X.std(axis=0) + 1e-8
        y = y.astype(np.int64)
        self._n_classes = int(y.max()) + 1
        train_idx, held_idx = holdout_split(len(X), self.knobs['seed'])
        Xt, yt = self._tensor(X[train_idx]), torch.as_tensor(y[train_idx])
        Xh, yh = self._tensor(X[held_idx]), torch.as_tensor(y[held_idx])
        self._net = self._build(X.shape[1], self._n_classes)
        optimizer = torch.optim.Adam(self._net.parameters(), lr=self.knobs['learning_rate'],
                                     weight_decay=self.knobs['weight_decay'])
        epochs = max(3, self.knobs['max_epochs'] // 5) if self.knobs['early_stop'] else self.knobs['max_epochs']
        fit_classifier(self._net, Xt, yt, Xh, yh, epochs, self.knobs['batch_size'], optimizer)

    def _tensor(self, X):
        return torch.as_tensor((X - self._mean) / self._std, dtype=torch.float32)

    def evaluate(self, dataset_path, features=None, target=None, **kwargs):
        X, y, _ = load_tabular_dataset(dataset_path, features or self._features, target)
        return accuracy(self._net, self._tensor(np.nan_to_num(X)), torch.as_tensor(y.astype(np.int64)))

    def predict(self, queries):
        X = np.nan_to_num(tabular_queries_to_array(queries, self._features))
        return predict_proba(self._net, self._tensor(X))

    def dump_parameters(self):
        params = state_to_params(self._net)
        params.update(features=json.dumps(self._features), mean=self._mean, std=self._std,
                      n_classes=self._n_classes)
        return params

    def load_parameters(self, params):
        self._features = json.loads(params['features'])
        self._mean, self._std, self._n_classes = params['mean'], params['std'], int(params['n_classes'])
        self._net = self._build(len(self._features), self._n_classes)
        self._net.load_state_dict(params_to_state(params))
