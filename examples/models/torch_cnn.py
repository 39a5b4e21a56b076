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

DEPENDENCIES = {'torch': '2.13.0'}


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
        order = np.random.default_rng(self.knobs['seed']).permutation(len(images))
        cut = int(len(images) * 0.8)
        Xt, yt = self._to_tensor(images[order[:cut]]), torch.as_tensor(labels[order[:cut]])
        Xh, yh = self._to_tensor(images[order[cut:]]), torch.as_tensor(labels[order[cut:]])
        optimizer = torch.optim.Adam(self._net.parameters(), lr=self.knobs['learning_rate'])
        epochs = 3 if self.knobs['early_stop'] else self.knobs['max_epochs']
        logger.define_loss_plot()
        for epoch in range(1, epochs + 1):
            self._net.train()
            perm, total = torch.randperm(len(Xt)), 0.0
            for start in range(0, len(Xt), self.knobs['batch_size']):
                idx = perm[start:start + self.knobs['batch_size']]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(self._net(Xt[idx]), yt[idx])
                loss.backward()
                optimizer.step()
                total += float(loss) * len(idx)
            logger.log_loss(total / len(Xt), epoch)
            logger.report(epoch, self._accuracy(Xh, yh))

    def _accuracy(self, X, y) -> float:
        self._net.eval()
        with torch.no_grad():
            return float((self._net(X).argmax(dim=1) == y).float().mean())

    def evaluate(self, dataset_path, **kwargs):
        images, labels, _ = load_image_dataset(dataset_path)
        return self._accuracy(self._to_tensor(images), torch.as_tensor(labels))

    def predict(self, queries):
        x = self._to_tensor(image_queries_to_array(queries))
        self._net.eval()
        with torch.no_grad():
            proba = torch.softmax(self._net(x), dim=1).numpy().astype(np.float64)
        return [[float(p) for p in row / row.sum()] for row in proba]

    def dump_parameters(self):
        params = {f'net.{k}': v.detach().numpy().copy() for k, v in self._net.state_dict().items()}
        params.update(shape=np.array(self._shape, dtype=np.int64), n_classes=self._n_classes)
        return params

    def _load_weights(self, params) -> bool:
        state = {k[4:]: torch.as_tensor(v) for k, v in params.items() if k.startswith('net.')}
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
