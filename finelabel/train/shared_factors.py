"""DDP for the model's big linear layers by their gradient's factors, not the gradient itself.

A linear layer y = x W^T gets, from a batch, the weight gradient G^T X: G (b, out) the output
gradients and X (b, in) the inputs of its b rows. The text encoder's last layer has
vocabulary x embedding weights (10k x 1k = 10M), and DDP all-reduces that matrix every step
(40 MB: on two CPU workers it took as long as the step itself). Its factors are b x (in + out)
numbers, 7x fewer at a 128-row batch. So each worker gathers every worker's X and G and forms
the whole gradient itself (Xie et al., "sufficient factor broadcasting", 2016): the same sum,
exactly, as DDP's average, for one more matrix product (the weight gradient of the whole
global batch, where DDP's workers each form their own rows').

These weights are left out of DDP; their gradients are equal on every worker, so the
optimiser keeps them equal too.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from finelabel.train.across_workers import Span, collective_device, world


class FactoredLinear(nn.Linear):
    """An ``nn.Linear`` (same parameters and state dict) whose weight gradient is formed from
    every DDP worker's factors, averaged over the workers as DDP averages."""

    def forward(self, x: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and self.weight.requires_grad and world()[1] > 1):
            return super().forward(x)
        y = _FactoredMatmul.apply(x, self.weight)
        return y if self.bias is None else y + self.bias


class _FactoredMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return x @ weight.T

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor]:
        x, weight = ctx.saved_tensors
        flat_x, flat_grad = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
        both = torch.cat([flat_x, flat_grad], dim=1)  # one gather for both factors
        span = Span.of(both.shape[0])
        every_x, every_grad = span.all_rows(both).split([flat_x.shape[1], flat_grad.shape[1]],
                                                        dim=1)
        weight_grad = (every_grad / span.size).T @ every_x  # scaling the small factor
        # image features need no gradient: skip that product, as nn.Linear's backward does
        return (grad @ weight if ctx.needs_input_grad[0] else None), weight_grad


def worth_factoring(layer: nn.Linear, rows: int) -> bool:
    """Whether ``rows`` rows' factors are at most half the weight matrix."""
    return rows * (layer.in_features + layer.out_features) * 2 <= layer.weight.numel()


def factor_large_linears(model: nn.Module, rows: int) -> list[str]:
    """Make every linear layer of ``model`` whose factors at a ``rows``-row global batch are
    worth sending a :class:`FactoredLinear` (in place); the names of their weights, for DDP to
    leave out."""
    names = []
    for name, module in model.named_modules():
        if type(module) is nn.Linear and worth_factoring(module, rows):
            module.__class__ = FactoredLinear  # the same parameters, a different backward
            names.append(f"{name}.weight")
    return names


def share_factors(model: nn.Module, rows: int) -> list[str]:
    """Before DDP wraps ``model``: factor its large linear layers (:func:`factor_large_linears`)
    and tell DDP to leave their weights to us; their names, for :func:`broadcast_parameters`."""
    from torch.nn.parallel import DistributedDataParallel

    names = factor_large_linears(model, rows)
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(model, names)
    return names


def broadcast_parameters(model: nn.Module, names: list[str]) -> None:
    """Rank 0's values of the named parameters on every worker (DDP does this for the rest)."""
    import torch.distributed as dist

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in names:
            dist.broadcast(params[name].data, src=0)


def check_in_sync(model: nn.Module, names: list[str]) -> None:
    """Raise if the named parameters differ between workers (DDP would not notice: it leaves
    them to us). One number per parameter crosses the wire."""
    import torch.distributed as dist

    from finelabel.errors import FinelabelError

    if not names:
        return
    params = dict(model.named_parameters())
    sums = torch.stack([params[name].detach().double().sum() for name in names])
    sums = sums.to(collective_device(sums.device))
    low, high = sums.clone(), sums.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    apart = [name for name, lo, hi in zip(names, low.tolist(), high.tolist(), strict=True)
             if abs(hi - lo) > 1e-6 * max(1.0, abs(hi))]
    if apart:
        raise FinelabelError(f"the DDP workers' copies of {', '.join(apart)} differ: their "
                             "gradients were not formed alike (train.share_factors=false "
                             "trains without factoring)")
