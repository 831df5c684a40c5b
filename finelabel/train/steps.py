"""One training epoch over batches of pairs: no Ray here, so the step runs (and is tested)
anywhere.

The Ray loop feeds batches of item ids from its dataset shard; its task
(:mod:`finelabel.train.tasks`) looks the items up in memory (texts as word-count signals,
images as fixed features). A batch is either row-aligned pairs (the pairs stage's sampled
pairs) or ``all_pairs``: every left item with every right item of a batch of items.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn
from torch.nn.functional import cross_entropy

from finelabel.config import LossConfig
from finelabel.losses import global_loss
from finelabel.train.across_workers import Span
from finelabel.train.reused_memory import reused_memory


@dataclass
class PairBatch:
    """left (B, N) text signals; right (B, N) texts (siamese) or (B, D) images (dual).

    Row-aligned pairs (left[i], right[i]), or with ``all_pairs`` every (left[i], right[j]):
    then ``positive`` and ``hardness`` are (B, B). With a ``span`` the pairs are those of the
    global batch of every DDP worker: ``left``/``right`` hold this worker's rows only, while
    ``positive`` and ``hardness`` cover the whole global batch (see :mod:`across_workers`).
    """

    left: Tensor
    right: Tensor
    positive: Tensor  # (B,) or (B, B) bool
    hardness: Tensor | None  # like positive, in [0, 1]; None before labelling
    left_labels: Tensor | None = None  # (B,) categories, for the label-space term
    right_labels: Tensor | None = None
    all_pairs: bool = False
    span: Span | None = None

    def to(self, device: torch.device | None) -> PairBatch:
        if device is None:
            return self
        moved = {name: None if value is None else value.to(device)
                 for name, value in vars(self).items() if isinstance(value, Tensor | None)}
        return replace(self, **moved)

    @property
    def num_pairs(self) -> int:
        return self.positive.numel()


def batch_loss(model: nn.Module, batch: PairBatch, loss: LossConfig, *,
               beta: float) -> tuple[Tensor, Tensor]:
    """(objective to back-propagate, the batch's loss) for the batch's (shifted) scores: the
    global loss plus the label-space term if weighted.

    The two differ only for a batch spanning workers: each worker's label-space term covers its
    own rows, and the batch's loss is their mean over the workers (:mod:`across_workers`).
    Everything goes through one ``model(...)`` call, as DDP needs for its gradient hooks.
    """
    with_logits = loss.label_weight > 0
    span = batch.span
    out = model(batch.left, batch.right, all_pairs=batch.all_pairs, with_logits=with_logits,
                gather=None if span is None else span.gather_rows)
    scores = out.scores if with_logits else out
    hardness = None if batch.hardness is None else batch.hardness.reshape(-1)
    pair_loss = global_loss(scores.reshape(-1), batch.positive.reshape(-1), hardness, beta=beta,
                            lam=loss.lam, margin=loss.margin, centre=loss.centre_labels)
    label_loss = scores.new_zeros(())
    if with_logits:  # per item: each worker's mean over its rows, averaged by DDP
        label_loss = loss.label_weight * (cross_entropy(out.text_logits, batch.left_labels)
                                          + cross_entropy(out.image_logits, batch.right_labels))
    objective = pair_loss + label_loss
    if span is None or not with_logits:
        return objective, objective.detach()
    # label_loss is a mean over this worker's rows; the batch's is the workers' mean of those
    return objective, pair_loss.detach() + span.mean(label_loss)


def train_epoch(model: nn.Module, batches: Iterable[PairBatch], optimizer: torch.optim.Optimizer,
                loss: LossConfig, *, beta: float, device: torch.device | None = None
                ) -> dict[str, float]:
    """Run one pass; return the mean loss per pair, the pair count and the pairs per second."""
    model.train()
    total, pairs, started = 0.0, 0, time.perf_counter()
    with reused_memory():  # each step's gradients reuse the last one's pages
        for batch in batches:
            batch = batch.to(device)
            objective, value = batch_loss(model, batch, loss, beta=beta)
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            total += float(value) * batch.num_pairs
            pairs += batch.num_pairs
    seconds = time.perf_counter() - started
    return {"train_loss": total / max(pairs, 1), "train_pairs": float(pairs),
            "pairs_per_s": pairs / seconds if seconds > 0 else 0.0}
