"""A small CenterNet for IMAGE_DETECTION (PyTorch, CPU; about a second an epoch on 300 64x64 images).

CenterNet (Zhou et al., "Objects as Points", 2019) in miniature: a fully convolutional network
looks at the image at a quarter of its resolution and predicts, for every cell, how likely an
object of each category has its centre there (a heatmap, trained with the penalty-reduced focal
loss), the object's width and height, and the centre's offset within the cell. Detections are the
heatmap's local maxima above ``min_score``. Images of any size are accepted (padded to a multiple
of 4). Scored by mean average precision at IoU 0.5 on the validation dataset.

``train_args``: ``epochs`` overrides the number of epochs (``EARLY_STOP`` trains 5 while the
advisor searches). Queries are images, ``H x W x 3`` nested lists of 0..255 values.
"""
import numpy as np
import torch
from torch import nn

from singa.model import (BaseModel, FixedKnob, FloatKnob, IntegerKnob, PolicyKnob, image_queries_to_rgb,
                         load_detection_dataset, logger)
from singa.model.torch_helpers import params_to_state, state_to_params

DEPENDENCIES = {'torch': '2.13.0'}
STRIDE = 4
SIZE_SCALE = 16.0          # widths and heights are predicted in units of 16 pixels
MAX_DETECTIONS = 20
torch.set_num_threads(1)   # a small network: threads only contend with the other workers on the host


class TorchCenterNet(BaseModel):
    @staticmethod
    def get_knob_config():
        return {
            'channels': IntegerKnob(16, 32),
            'learning_rate': FloatKnob(1e-3, 6e-3, is_exp=True),
            'epochs': FixedKnob(30),
            'batch_size': FixedKnob(16),
            'min_score': FixedKnob(0.3),
            'early_stop': PolicyKnob('EARLY_STOP'),
            'seed': FixedKnob(0),
        }

    def __init__(self, **knobs):
        super().__init__(**knobs)
        self._net, self._categories = None, []

    def _build(self) -> nn.Module:
        c = self.knobs['channels']

        def block(cin, cout, stride=1):
            return [nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        body = nn.Sequential(*block(3, c), *block(c, c, 2), *block(c, 2 * c, 2), *block(2 * c, 2 * c),
                             *block(2 * c, 2 * c))
        return _CenterNet(body, 2 * c, len(self._categories))

    def train(self, dataset_path, shared_params=None, epochs=None, **train_args):
        torch.manual_seed(self.knobs['seed'])
        data = load_detection_dataset(dataset_path)
        self._categories = data.categories
        self._net = self._build()
        images = _to_tensor(data.images)
        targets = _targets(data, images.shape[2] // STRIDE, images.shape[3] // STRIDE, len(self._categories))
        epochs = epochs or (5 if self.knobs['early_stop'] else self.knobs['epochs'])
        optimizer = torch.optim.Adam(self._net.parameters(), lr=self.knobs['learning_rate'])
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        logger.define_loss_plot()
        for epoch in range(1, epochs + 1):
            self._net.train()
            order, total = torch.randperm(len(images)), 0.0
            for start in range(0, len(images), self.knobs['batch_size']):
                idx = order[start:start + self.knobs['batch_size']]
                optimizer.zero_grad()
                loss = _loss(self._net(images[idx]), [t[idx] for t in targets])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            schedule.step()
            logger.log_loss(total / len(images), epoch)

    def evaluate(self, dataset_path, **kwargs):
        data = load_detection_dataset(dataset_path)
        score = data.average_precision(self._detect(data.images))
        logger.log(map50=score)
        return score

    def predict(self, queries):
        return self._detect(image_queries_to_rgb(queries))

    def _detect(self, images) -> list:
        self._net.eval()
        out = []
        with torch.no_grad():
            for image in images:           # one at a time: queries may differ in size
                heat, size, offset = self._net(_to_tensor([image]))
                out.append(self._decode(torch.sigmoid(heat[0]), size[0], offset[0]))
        return out

    def _decode(self, heat, size, offset) -> list:
        peaks = heat * (nn.functional.max_pool2d(heat[None], 3, 1, 1)[0] == heat)
        scores, flat = peaks.flatten().topk(min(MAX_DETECTIONS, peaks.numel()))
        cells = heat.shape[1] * heat.shape[2]
        detections = []
        for score, index in zip(scores.tolist(), flat.tolist()):
            if score < self.knobs['min_score']:
                break
            category, y, x = index // cells, (index % cells) // heat.shape[2], index % heat.shape[2]
            cx, cy = (x + float(offset[0, y, x])) * STRIDE, (y + float(offset[1, y, x])) * STRIDE
            w, h = max(float(size[0, y, x]), 0.0) * SIZE_SCALE, max(float(size[1, y, x]), 0.0) * SIZE_SCALE
            detections.append({'bbox': [round(cx - w / 2, 2), round(cy - h / 2, 2), round(w, 2), round(h, 2)],
                               'category_id': self._categories[category]['id'], 'score': round(score, 4)})
        return detections

    def dump_parameters(self):
        params = state_to_params(self._net)
        params['category_ids'] = np.array([c['id'] for c in self._categories], dtype=np.int64)
        params['category_names'] = '\n'.join(c['name'] for c in self._categories)
        return params

    def load_parameters(self, params):
        names = params['category_names'].split('\n')
        self._categories = [{'id': int(i), 'name': n} for i, n in zip(params['category_ids'], names)]
        self._net = self._build()
        self._net.load_state_dict(params_to_state(params))


class _CenterNet(nn.Module):
    def __init__(self, body: nn.Module, width: int, categories: int):
        super().__init__()
        self.body = body
        self.heat = nn.Conv2d(width, categories, 1)
        self.size = nn.Conv2d(width, 2, 1)
        self.offset = nn.Conv2d(width, 2, 1)
        nn.init.constant_(self.heat.bias, -2.19)     # a prior of 0.1 on every cell: stable focal loss

    def forward(self, x):
        features = self.body(x)
        return self.heat(features), self.size(features), self.offset(features)


def _to_tensor(images) -> torch.Tensor:
    """A batch N x 3 x H x W in [0, 1], padded at the bottom and right to multiples of STRIDE."""
    h = max(img.shape[0] for img in images)
    w = max(img.shape[1] for img in images)
    batch = np.zeros((len(images), -(-h // STRIDE) * STRIDE, -(-w // STRIDE) * STRIDE, 3), dtype=np.float32)
    for i, img in enumerate(images):
        batch[i, :img.shape[0], :img.shape[1]] = img
    return torch.from_numpy(batch / 255.0).permute(0, 3, 1, 2).contiguous()


def _targets(data, rows: int, cols: int, categories: int):
    """Per image: the heatmap (Gaussian peaks at the centres), sizes and offsets at the centres, and
    the mask of centre cells."""
    n = len(data)
    heat = np.zeros((n, categories, rows, cols), dtype=np.float32)
    size = np.zeros((n, 2, rows, cols), dtype=np.float32)
    offset = np.zeros((n, 2, rows, cols), dtype=np.float32)
    mask = np.zeros((n, rows, cols), dtype=np.float32)
    ys, xs = np.mgrid[0:rows, 0:cols]
    for i in range(n):
        for (x, y, w, h), label in zip(data.boxes[i], data.labels[i]):
            cx, cy = (x + w / 2) / STRIDE, (y + h / 2) / STRIDE
            col, row = min(int(cx), cols - 1), min(int(cy), rows - 1)
            sigma = max(min(w, h) / STRIDE / 6, 0.5)
            peak = np.exp(-((xs - col) ** 2 + (ys - row) ** 2) / (2 * sigma ** 2))
            heat[i, label] = np.maximum(heat[i, label], peak)
            size[i, :, row, col] = (w / SIZE_SCALE, h / SIZE_SCALE)
            offset[i, :, row, col] = (cx - col, cy - row)
            mask[i, row, col] = 1
    return [torch.from_numpy(a) for a in (heat, size, offset, mask)]


def _loss(outputs, targets) -> torch.Tensor:
    heat_logits, size, offset = outputs
    heat, size_t, offset_t, mask = targets
    p = torch.sigmoid(heat_logits).clamp(1e-4, 1 - 1e-4)
    positive = heat.eq(1).float()
    focal = -(positive * (1 - p) ** 2 * torch.log(p)
              + (1 - positive) * (1 - heat) ** 4 * p ** 2 * torch.log(1 - p)).sum()
    objects = mask.sum().clamp(min=1)
    m = mask[:, None]
    regression = ((size - size_t).abs() * m).sum() + ((offset - offset_t).abs() * m).sum()
    return (focal + regression) / objects
