"""The two trainings that share one loop: the siamese text-text net and the dual-path model.

A task says what differs between them: how its model is built, what a pair is (its two item
columns), how a batch of pairs is looked up, how the model is validated and by which metric
the best epoch is chosen, and whether fine-grained labels shift its scores. The loop, the
checkpoints and the trainer take a task and never branch on its name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from finelabel.config import LossConfig, ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import siamese_map, split_map
from finelabel.models import create_model
from finelabel.resolver import resolve
from finelabel.train.across_workers import Span
from finelabel.train.hardness import InBatchHardness
from finelabel.train.steps import PairBatch


@dataclass(frozen=True)
class Task:
    """What one kind of training needs; see the module docstring."""

    name: str
    #: The two item-id columns of a pair: the left text, and the right item (text or image).
    columns: tuple[str, str]
    #: The validation metric that selects the best epoch.
    selection_metric: str

    def build_model(self, cfg: ModelConfig, data: PreparedData,
                    label_weight: float = 0.0) -> nn.Module:
        return create_model(self.name, cfg, data, label_weight=label_weight)

    def right_items(self, data: PreparedData, ids: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def batch(self, pairs: Mapping[str, np.ndarray], data: PreparedData) -> PairBatch:
        """Look up a batch of pairs (the task's two columns, ``positive``[, ``hardness``])."""
        left, right = (np.asarray(pairs[c]) for c in self.columns)
        hardness = pairs.get("hardness")
        positive = torch.from_numpy(np.array(pairs["positive"], dtype=bool))  # a writable copy
        return PairBatch(data.texts(left), self.right_items(data, right), positive,
                         None if hardness is None
                         else torch.from_numpy(np.array(hardness, dtype=np.float32)),
                         _labels(data, left), _labels(data, right))

    def item_batch(self, ids: np.ndarray, data: PreparedData,
                   hardness: InBatchHardness | None = None, *,
                   across: tuple[np.ndarray, Span] | None = None) -> PairBatch:
        """Every (text i, right item j) pair of a batch of items ``ids`` (B,), positive when
        their categories agree: B * B pairs from B texts and B right items.

        ``across`` = (every worker's ids in rank order, how they are cut): the pairs are then
        those of that global batch, of which this worker embeds ``ids``."""
        every, span = (ids, None) if across is None else across
        labels = data.labels[every]
        positive = labels[:, None] == labels[None, :]  # (B, B) over the global batch
        labels_tensor = _labels(data, ids)
        return PairBatch(data.texts(ids), self.right_items(data, ids),
                         torch.from_numpy(positive),
                         None if hardness is None
                         else torch.from_numpy(hardness.matrix(every, every, positive)),
                         labels_tensor, labels_tensor, all_pairs=True, span=span)

    def validate(self, model: nn.Module, data: PreparedData,
                 device: torch.device | None = None) -> dict[str, float]:
        raise NotImplementedError

    def beta(self, loss: LossConfig) -> float:
        """How far fine-grained labels shift this task's scores (0: they play no part)."""
        return 0.0

    def loss_config(self, loss: LossConfig) -> LossConfig:
        """The loss this task trains with: the siamese net's is the plain global loss."""
        return dataclasses.replace(loss, beta=self.beta(loss), label_weight=0.0)


@dataclass(frozen=True)
class SiameseTask(Task):
    """Text-text pairs, positive when the categories agree; trained with beta = 0."""

    name: str = "siamese"
    columns: tuple[str, str] = ("text_a", "text_b")
    selection_metric: str = "val_map_t2t"

    def right_items(self, data: PreparedData, ids: np.ndarray) -> torch.Tensor:
        return data.texts(ids)

    def validate(self, model, data, device=None):
        return {f"val_map_{k}": v for k, v in siamese_map(model, data, device=device).items()}


@dataclass(frozen=True)
class DualTask(Task):
    """Text-image pairs with their hardness labels: the model finelabel is for."""

    name: str = "dual"
    columns: tuple[str, str] = ("text_idx", "image_idx")
    selection_metric: str = "val_map_avg"

    def right_items(self, data: PreparedData, ids: np.ndarray) -> torch.Tensor:
        return data.images(ids)

    def validate(self, model, data, device=None):
        return {f"val_map_{k}": v for k, v in split_map(model, data, "val", device=device).items()}

    def beta(self, loss: LossConfig) -> float:
        return loss.beta

    def loss_config(self, loss: LossConfig) -> LossConfig:
        return loss


def _labels(data: PreparedData, ids: np.ndarray) -> torch.Tensor:
    """(B,) int64 categories of items ``ids``."""
    return torch.from_numpy(np.ascontiguousarray(data.labels[ids], dtype=np.int64))


TASKS: dict[str, Task] = {"siamese": SiameseTask(), "dual": DualTask()}


def get_task(name: str) -> Task:
    return resolve(name, TASKS, "training task")
