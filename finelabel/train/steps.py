"""One training epoch over pair batches: no Ray here, so the step runs (and is tested) anywhere.

The Ray loop feeds batches of item ids from its dataset shard; its task
(:mod:`finelabel.train.tasks`) looks the items up in memory (texts as word-count signals,
images as fixed features).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from finelabel.config import LossConfig
from finelabel.losses import global_loss


@dataclass
class PairBatch:
    """left (B, N) text signals; right (B, N) texts (siamese) or (B, D) images (dual)."""

    left: Tensor
    right: Tensor
    positive: Tensor  # (B,) bool
    hardness: Tensor | None  # (B,) in [0, 1], or None before labelling

    def to(self, device: torch.device | None) -> PairBatch:
        if device is None:
            return self
        hardness = None if self.hardness is None else self.hardness.to(device)
        return PairBatch(self.left.to(device), self.right.to(device),
                         self.positive.to(device), hardness)


def train_epoch(model: nn.Module, batches: Iterable[PairBatch], optimizer: torch.optim.Optimizer,
                loss: LossConfig, *, beta: float, device: torch.device | None = None
                ) -> dict[str, float]:
    """Run one pass; return the mean loss, the pair count and the pairs per second."""
    model.train()
    total, pairs, started = 0.0, 0, time.perf_counter()
    for batch in batches:
        batch = batch.to(device)
        scores = model(batch.left, batch.right)  # (B,)
        value = global_loss(scores, batch.positive, batch.hardness, beta=beta, lam=loss.lam,
                            margin=loss.margin)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        total += float(value.detach()) * len(scores)
        pairs += len(scores)
    seconds = time.perf_counter() - started
    return {"train_loss": total / max(pairs, 1), "train_pairs": float(pairs),
            "pairs_per_s": pairs / seconds if seconds > 0 else 0.0}
