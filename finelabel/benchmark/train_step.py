"""One dual-path training step against the bound this machine's matmul rate puts on it.

The step's dense work is the two FC layers (text |V| -> d, image D -> d), forward and
backward; the bound is the time of those products alone at their shapes, on the same threads.
``fraction`` = bound / step time: 1.0 would mean nothing but the FC products costs time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class StepShape:
    batch: int = 128
    nodes: int = 10_000
    embed_dim: int = 1024
    image_dim: int = 4096
    filters: int = 1


def knn_graph(num_nodes: int, dim: int = 50, k: int = 8, seed: int = 0) -> torch.Tensor:
    """The library's word graph (symmetric cosine k-NN) over random dim-d vectors: (2, E)."""
    from finelabel.data.text.word_graph import knn_graph as word_graph

    gen = torch.Generator().manual_seed(seed)
    return word_graph(torch.randn(num_nodes, dim, generator=gen), k)


def word_counts(batch: int, num_nodes: int, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    """(B, N) counts of about 100 distinct words per text."""
    gen = torch.Generator().manual_seed(seed)
    rate = torch.full((batch, num_nodes), 100.0 / num_nodes)
    return torch.poisson(rate, generator=gen).to(device)


def synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def interleaved_seconds(fns: dict[str, Callable[[], object]], repeats: int,
                        warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function, timed in turns so that a load change hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize()
            start = time.perf_counter()
            fn()
            synchronize()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def fc_matmul_shapes(shape: StepShape, num_nodes: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every dense product of a step's FC layers, forward and backward."""
    b, n_f, d, img = shape.batch, num_nodes * shape.filters, shape.embed_dim, shape.image_dim
    return [(b, n_f, d),    # text FC forward
            (b, d, n_f),    # text FC grad input (the GCN below needs it)
            (d, b, n_f),    # text FC grad weight
            (b, img, d),    # image FC forward
            (d, b, img)]    # image FC grad weight (image features need no grad)


def fc_matmuls(shapes: list[tuple[int, int, int]],
               device: str = "cpu") -> tuple[float, Callable[[], None]]:
    """FLOPs of these products, and a function that runs them all once."""
    operands = [(torch.randn(m, k, device=device), torch.randn(k, n, device=device))
                for m, k, n in shapes]

    def run() -> None:
        for a, b in operands:
            torch.mm(a, b)
    return sum(2.0 * m * k * n for m, k, n in shapes), run


def make_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, text: torch.Tensor,
              image: torch.Tensor, positive: torch.Tensor) -> Callable[[], None]:
    from finelabel.losses import global_loss

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = global_loss(model(text, image), positive, lam=0.35, margin=0.8)
        loss.backward()
        optimizer.step()
    return step


def step_inputs(shape: StepShape, num_nodes: int,
                device: str = "cpu") -> tuple[torch.Tensor, ...]:
    text = word_counts(shape.batch, num_nodes, seed=1)
    image = torch.relu(torch.randn(shape.batch, shape.image_dim))  # like fc7 after ReLU
    positive = torch.arange(shape.batch) % 2 == 0  # 1:1
    return tuple(t.to(device) for t in (text, image, positive))


def step_fraction_of_bound(shape: StepShape = StepShape(), *, repeats: int = 7,
                           device: str = "cpu", reuse_memory: bool = True) -> dict[str, Any]:
    """Median step time (fused Adam) against the FC products alone, timed in turns.

    ``ceiling`` is the fraction a step would reach if it did nothing but its unavoidable work:
    the FC products, the graph's sparse products (:func:`sparse_products`) and Adam's pass
    over every weight, each timed alone in the same turns. Steps run inside
    :func:`reused_memory`, as ``train_epoch`` runs them, unless ``reuse_memory`` is False;
    ``page_faults_per_step`` counts what the kernel had to map in for a step.
    """
    from finelabel.config import ModelConfig
    from finelabel.models import build_dual_path
    from finelabel.train.reused_memory import reused_memory

    torch.manual_seed(0)
    edge_index = knn_graph(shape.nodes)
    cfg = ModelConfig(filters=shape.filters, embed_dim=shape.embed_dim)
    model = build_dual_path(cfg, edge_index, shape.nodes, shape.image_dim).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    step = make_step(model, optimizer, *step_inputs(shape, shape.nodes, device))
    flops, matmuls = fc_matmuls(fc_matmul_shapes(shape, shape.nodes), device)
    with reused_memory() if reuse_memory else nullcontext():
        step()  # every weight has a gradient for the optimizer alone
        seconds = interleaved_seconds({"bound": matmuls, "step": step,
                                       "optimizer": optimizer.step,
                                       "sparse": sparse_products(model, shape)},
                                      repeats, warmup=2)
        faults = page_faults_per_call(step)
    necessary = seconds["bound"] + seconds["sparse"] + seconds["optimizer"]
    return {"fraction": seconds["bound"] / seconds["step"],
            "ceiling": seconds["bound"] / necessary,
            "step_pairs_per_s": shape.batch / seconds["step"],
            "bound_pairs_per_s": shape.batch / seconds["bound"],
            "ms": {name: value * 1e3 for name, value in seconds.items()},
            "page_faults_per_step": faults,
            "gflops": flops / seconds["bound"] / 1e9, "shape": asdict(shape)}


def page_faults_per_call(fn: Callable[[], object], calls: int = 3) -> float | None:
    """Minor page faults per call of ``fn`` (None where the OS does not count them)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def sparse_products(model: torch.nn.Module, shape: StepShape) -> Callable[[], None]:
    """The text GCN's products with the scaled Laplacian in one step: K - 1 per input channel
    of each layer forward (1 channel, then ``filters``), and as many backward in the second
    layer (the first one's input, the word counts, needs no gradient)."""
    encoder = model.text_encoder
    laplacian = encoder.conv1.laplacian
    order = len(encoder.conv1.lins)
    signal = torch.rand(shape.nodes, shape.batch, device=laplacian.device)
    count = (order - 1) * (1 + 2 * shape.filters)

    def run() -> None:
        for _ in range(count):
            torch.mm(laplacian, signal)
    return run
