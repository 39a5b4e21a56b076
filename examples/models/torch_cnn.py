"""A small PyTorch CNN for IMAGE_CLASSIFICATION (CPU, seconds per trial on 8x8 digits).

Policies: ``EARLY_STOP`` (few epochs while searching) and ``SHARE_PARAMS`` (warm-start from an
earlier trial's weights when the shapes match). Reports held-out accuracy after every epoch.
Queries are nested lists of pixels (H x W, or H x W x C).
"""
import numpy as np
import torch
from torch import nn

from singa.model import BaseModel, CategoricalKnob, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob, logger
from singa.model.dataset import image_queries_to_array, load_image_dataset
from singa.model.torch_helpers import (accuracy, fit_classifier, holdout_split, params_to_state, predict_proba,
                                       state_to_params)

DEPENDENCIES = {'torch': '2.13.0'}
torch.set_num_threads(1)   # tiny networks: threads only contend with the other workers on the host


class TorchCnnClf(BaseModel):
    @staticmethod
    def get_knob_config():
        return {
            'channels': IntegerKnob(8, 32, is_exp=True),
            'kernel_size': CategoricalKnob([3, 5]),
            'dense_units': IntegerKnob(32, 128, is_exp=True),
            'learning_rate': FloatKnob(3e-4, 3e-2, is_exp=True),
            'batch_size': FixedKnob(32),
            'max_epochs': FixedKnob(12),
            'early_stop': PolicyKnob('EARLY_STOP'),
            'share_params': PolicyKnob('SHARE_PARAMS'),
            'seed': FixedKnob(0),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._net, self._shape, self._n_classes = None, None, 0

    def _build(self) -> nn.Module:
        k, (h, w, c) = self.knobs, self._shape
        return nn.Sequential(
            nn.Conv2d(c, k['channels'], k['kernel_size'], padding=k['kernel_size'] // 2), nn.ReLU(),
            nn.Conv2d(k['channels'], k['channels'], 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(k['channels'] * (h // 2) * (w // 2), k['dense_units']), nn.ReLU(),
            nn.Linear(k['dense_units'], self._n_classes))

    @staticmethod
    def _to_tensor(images: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images, dtype=np.float32) / 255.0)
        return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)

    def train(self, dataset_path, shared_params=None, **train_args):
        torch.manual_seed(self.knobs['seed'])
        images, labels, classes = load_image_dataset(dataset_path)
        self._shape = images.shape[1:3] + ((images.shape[3],) if images.ndim == 4 else (1,))
        self._n_classes = len(classes)
        self._net = self._build()
        if shared_params is not None and self._load_weights(shared_params):
            logger.log('Warm-started from shared parameters')
        train_idx, held_idx = holdout_split(len(images), self.knobs['seed'])
        Xt, yt = self._to_tensor(images[train_idx]), torch.as_tensor(labels[train_idx])
        Xh, yh = self._to_tensor(images[held_idx]), torch.as_tensor(labels[held_idx])
        optimizer = torch.optim.Adam(self._net.parameters(), lr=self.knobs['learning_rate'])
        epochs = 3 if self.knobs['early_stop'] else self.knobs['max_epochs']
        fit_classifier(self._net, Xt, yt, Xh, yh, epochs, self.knobs['batch_size'], optimizer)

    def evaluate(self, dataset_path, **kwargs):
        images, labels, _ = load_image_dataset(dataset_path)
        return accuracy(self._net, self._to_tensor(images), torch.as_tensor(labels))

    def predict(self, queries):
        return predict_proba(self._net, self._to_tensor(image_queries_to_array(queries)))

    def dump_parameters(self):
        params = state_to_params(self._net)
        params.update(shape=np.array(self._shape, dtype=np.int64), n_classes=self._n_classes)
        return params

    def _load_weights(self, params) -> bool:
        state = params_to_state(params)
        own = self._net.state_dict()
        if state.keys() != own.keys() or any(state[k].shape != own[k].shape for k in own):
            return False
        self._net.load_state_dict(state)
        return True

    def load_parameters(self, params):
        self._shape, self._n_classes = tuple(int(v) for v in params['shape']), int(params['n_classes'])
        self._net = self._build()
        if not self._load_weights(params):
            raise ValueError('parameters do not match this architecture')
