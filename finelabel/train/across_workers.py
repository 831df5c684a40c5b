"""In-batch pairs that span every DDP worker, so that N workers train as one does.

With ``train.pairing=in_batch`` the global loss is taken over every (text, item) pair of a
batch, and it is not a sum over pairs: its variances and means mix them all. A worker that
paired only its own slice of the global batch would train on 1/N of the pairs and on other
statistics than one worker at the same global batch. Here each worker embeds its own rows,
gathers the other workers' embeddings (small: rows x d), scores the whole global batch and takes
the loss over all of it, exactly as one worker would.

Gradients: every worker computes the same loss L over the same gathered rows. The gather's
backward sums, for each worker's rows, the gradients all N copies of L send them (N dL/du_r),
and DDP's average over the workers divides by N again: the encoders get dL/dtheta. Parameters
after the gather (the score head) see the whole batch on every worker, so their gradient is
dL/dtheta on each, and the average keeps it. The one-worker gradient, tested to float
precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


def world() -> tuple[int, int]:
    """(rank, world size) of the default process group; (0, 1) outside one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def collective_device(default: torch.device) -> torch.device:
    """Where the process group's tensors must be: NCCL moves only CUDA tensors."""
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return default


@dataclass(frozen=True)
class Span:
    """How a global batch is cut into the workers' rows: ``counts[r]`` rows on rank r."""

    counts: tuple[int, ...]
    rank: int

    @classmethod
    def of(cls, count: int) -> Span:
        """Every worker's row count of this step (a collective: every worker calls it)."""
        import torch.distributed as dist

        rank, size = world()
        mine = torch.tensor([count], dtype=torch.int64,
                            device=collective_device(torch.device("cpu")))
        counts = [torch.zeros_like(mine) for _ in range(size)]
        dist.all_gather(counts, mine)
        return cls(tuple(int(c.item()) for c in counts), rank)

    @property
    def size(self) -> int:
        return len(self.counts)

    def all_rows(self, rows: Tensor) -> Tensor:
        """(counts[rank], ...) -> (sum(counts), ...) in rank order, no gradient."""
        import torch.distributed as dist

        longest = max(self.counts)
        padded = rows.detach().to(collective_device(rows.device))
        if rows.shape[0] < longest:
            padded = torch.cat([padded, padded.new_zeros(longest - rows.shape[0],
                                                         *rows.shape[1:])])
        parts = [torch.empty_like(padded) for _ in self.counts]
        dist.all_gather(parts, padded.contiguous())
        every = torch.cat([part[:count] for part, count in zip(parts, self.counts, strict=True)])
        return every.to(rows.device)

    def gather_rows(self, rows: Tensor) -> Tensor:
        """(counts[rank], ...) -> (sum(counts), ...) in rank order, differentiable."""
        return _GatherRows.apply(rows, self)

    def mean(self, value: Tensor) -> Tensor:
        """The workers' mean of a scalar (for reporting: it carries no gradient)."""
        import torch.distributed as dist

        total = value.detach().clone().to(collective_device(value.device))
        dist.all_reduce(total)
        return (total / self.size).to(value.device)


class _GatherRows(torch.autograd.Function):
    """all_gather forward; backward: the sum over workers of the gradient of every row, of
    which each worker keeps its own rows' (a reduce-scatter, as an all-reduce of rows x d)."""

    @staticmethod
    def forward(ctx, rows: Tensor, span: Span) -> Tensor:
        ctx.span = span
        return span.all_rows(rows)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        import torch.distributed as dist

        span = ctx.span
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        start = sum(span.counts[:span.rank])
        return total[start:start + span.counts[span.rank]], None


def gather_ids(ids: np.ndarray) -> tuple[np.ndarray, Span]:
    """Every worker's item ids of this step, in rank order, and how they are cut."""
    span = Span.of(len(ids))
    return span.all_rows(torch.as_tensor(np.asarray(ids, dtype=np.int64))).numpy(), span
