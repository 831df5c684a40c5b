"""What one Ray Train run needs, typed: the payload of the per-worker function.

Ray passes ``train_loop_config`` as a plain dict; :meth:`TrainJob.from_dict` turns it back into
typed sections at once, so nothing inside the loop reads raw keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finelabel.config import LossConfig, ModelConfig, TrainConfig, build
from finelabel.storage import local_path
from finelabel.train.tasks import Task, get_task

HISTORY_SUFFIX = ".history.jsonl"


def history_location(model_dir: str | Path) -> str:
    """Rank 0's epoch metrics, one JSON line each, beside the best model in ``model_dir``
    (a path or a storage URI)."""
    return str(model_dir).rstrip("/") + HISTORY_SUFFIX


def history_path(model_dir: str | Path) -> Path:
    """The local copy of :func:`history_location`."""
    return local_path(history_location(model_dir))


@dataclass
class TrainJob:
    """``siamese``: text-text pairs (beta = 0); ``dual``: labelled text-image pairs."""

    task: str
    prepared_dir: str
    #: The run folder's location (a path or a storage URI) and where in it rank 0 keeps the
    #: best model by validation MAP; workers on any node fetch from and publish to them.
    model_dir: str
    model: ModelConfig
    loss: LossConfig
    train: TrainConfig
    tracking_uri: str | None = None
    mlflow_run_id: str | None = None
    #: Out-of-fold siamese nets: train on every one of ``folds`` folds of the training items
    #: but ``holdout_fold`` (-1: on all of them).
    holdout_fold: int = -1
    folds: int = 1
    #: A checkpoint of this run on its storage that Ray may not have registered (a driver
    #: killed meanwhile): resumed from when newer than Ray's own (:mod:`.persisted`).
    resume_from: str | None = None

    def __post_init__(self) -> None:
        get_task(self.task)  # fails early, listing the tasks, on an unknown name
        if not -1 <= self.holdout_fold < self.folds:
            raise ValueError(f"holdout_fold must be -1 or in [0, {self.folds}), "
                             f"got {self.holdout_fold}")

    def kept_items(self, data) -> np.ndarray | None:
        """(n,) bool: the items this run may train on; None when it may use all."""
        if self.holdout_fold < 0:
            return None
        return data.folds(self.folds, self.train.seed) != self.holdout_fold

    def training_task(self) -> Task:
        return get_task(self.task)

    def history_path(self) -> Path:
        return history_path(self.model_dir)

    def model_path(self) -> Path:
        """The local copy of ``model_dir`` on this node."""
        return local_path(self.model_dir)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainJob:
        return build(cls, data, "train_loop_config")
