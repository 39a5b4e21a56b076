"""Helpers for PyTorch classification templates (import only from templates that use torch).

``fit_classifier`` runs the epoch loop with a loss plot and an intermediate ``logger.report`` of
the held-out accuracy after every epoch (so the advisor can prune); ``predict_proba`` returns
rows of probabilities in the platform's convention; ``state_to_params`` / ``params_to_state``
turn a ``state_dict`` into parameter arrays and back.
"""
from typing import Dict, List

import numpy as np
import torch
from torch import nn

from singa.model.log import logger

PREFIX = 'net.'


def fit_classifier(net: nn.Module, X: torch.Tensor, y: torch.Tensor, X_held: torch.Tensor,
                   y_held: torch.Tensor, epochs: int, batch_size: int, optimizer: torch.optim.Optimizer) -> None:
    logger.define_loss_plot()
    logger.define_plot('Held-out accuracy', ['intermediate_score'], x_axis='step')
    for epoch in range(1, epochs + 1):
        net.train()
        perm, total = torch.randperm(len(X)), 0.0
        for start in range(0, len(X), batch_size):
            idx = perm[start:start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(X[idx]), y[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        logger.log_loss(total / len(X), epoch)
        logger.report(epoch, accuracy(net, X_held, y_held))


def accuracy(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """The share of right answers, exactly (a float32 mean is off by up to ~1e-7, enough to rank it
    apart from a template scoring the same share in float64)."""
    net.eval()
    with torch.no_grad():
        return int((net(X).argmax(dim=1) == y).sum()) / max(1, len(y))


def predict_proba(net: nn.Module, X: torch.Tensor) -> List[List[float]]:
    net.eval()
    with torch.no_grad():
        proba = torch.softmax(net(X), dim=1).numpy().astype(np.float64)
    return [[float(p) for p in row / row.sum()] for row in proba]


def state_to_params(net: nn.Module) -> Dict[str, np.ndarray]:
    return {PREFIX + k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def params_to_state(params: dict) -> Dict[str, torch.Tensor]:
    return {k[len(PREFIX):]: torch.as_tensor(v) for k, v in params.items() if k.startswith(PREFIX)}


def holdout_split(n: int, seed: int, fraction: float = 0.2):
    """Indices ``(train, held_out)`` of a seeded shuffle; the held-out part gives the reports."""
    order = np.random.default_rng(seed).permutation(n)
    cut = int(n * (1 - fraction))
    return order[:cut], order[cut:]
