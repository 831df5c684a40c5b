"""Speed of the model library: static-graph batching and one dual-path training step.

Prints figures, asserts nothing (the machine is shared and noisy: every figure is the median of
several repeats, and the targets are ratios within one run):

(a) text-encoder forward+backward throughput at batch B: one static graph for the whole batch
    (StaticChebConv) against the same layers and weights as plain PyG ChebConv over a ``Batch``
    of B graph copies. Target: static >= 10x.
(b) one dual-path training step (forward, global loss, backward, Adam) against the bound that
    this machine's float32 matmul rate puts on it at the FC layers' shapes. Target: >= 0.5.

    .venv/bin/python benchmarks/bench_models.py [--graph G.npz] [--threads 2] [--profile]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import ChebConv

from finelabel.benchmark.train_step import (
    fc_matmul_shapes,
    fc_matmuls,
    interleaved_seconds,
    knn_graph,
    make_step,
    step_inputs,
    word_counts,
)
from finelabel.config import ModelConfig
from finelabel.models import TextGCNEncoder, build_dual_path, build_text_encoder
from finelabel.train.reused_memory import reused_memory


@dataclass
class Args:
    graph: str | None
    nodes: int
    batch: int
    embed_dim: int
    image_dim: int
    filters: int
    threads: int
    repeats: int
    profile: bool
    skip_pyg: bool
    device: str


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graph", help=".npz with edge_index (2, E) and num_nodes")
    parser.add_argument("--nodes", type=int, default=10_000, help="random k-NN graph size")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--embed-dim", type=int, default=1024)
    parser.add_argument("--image-dim", type=int, default=4096)
    parser.add_argument("--filters", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the step's top ops")
    parser.add_argument("--skip-pyg", action="store_true", help="skip the slow PyG baseline")
    parser.add_argument("--device", default="cpu", help="cpu (the figures asked for) or cuda")
    return Args(**vars(parser.parse_args()))


# --- inputs -------------------------------------------------------------------------------------

def load_graph(args: Args) -> tuple[torch.Tensor, int]:
    if args.graph is None:
        return knn_graph(args.nodes), args.nodes
    with np.load(args.graph) as npz:
        return torch.as_tensor(npz["edge_index"], dtype=torch.long), int(npz["num_nodes"])


# --- (a) static graph against a Batch of graph copies -------------------------------------------

def pyg_twins(encoder: TextGCNEncoder) -> tuple[ChebConv, ChebConv]:
    """Plain PyG ChebConv layers holding the encoder's own weights."""
    twins = []
    for conv in (encoder.conv1, encoder.conv2):
        twin = ChebConv(conv.in_channels, conv.out_channels, len(conv.lins))
        twin.load_state_dict(conv.state_dict())
        twin.to(conv.bias.device)
        twins.append(twin)
    return twins[0], twins[1]


def pyg_encode(encoder: TextGCNEncoder, twins: tuple[ChebConv, ChebConv], batch: Batch,
               size: int) -> torch.Tensor:
    """The encoder's layers as PyG runs them on B graph copies: (B*N, 1) -> (B, d)."""
    hidden = torch.relu(twins[0](batch.x, batch.edge_index))  # (B*N, F)
    hidden = twins[1](hidden, batch.edge_index).view(size, encoder.num_nodes, -1)  # (B, N, F)
    hidden = torch.relu(hidden + encoder.node_bias)
    return encoder.fc(hidden.reshape(size, -1))  # (B, N*F) -> (B, d)


def graph_batch(x: torch.Tensor, edge_index: torch.Tensor) -> Batch:
    """A PyG Batch of B copies of the graph, one text signal each: x (B, N)."""
    return Batch.from_data_list([Data(x=row.unsqueeze(-1), edge_index=edge_index) for row in x])


def fwd_bwd(module: torch.nn.Module, forward: Callable[[], torch.Tensor]) -> Callable[[], None]:
    def run() -> None:
        module.zero_grad(set_to_none=True)
        out = forward()
        out.backward(torch.ones_like(out))  # a dense gradient, as a loss would send
    return run


def bench_encoder(args: Args, edge_index: torch.Tensor, num_nodes: int) -> None:
    cfg = ModelConfig(filters=args.filters, embed_dim=args.embed_dim)
    encoder = build_text_encoder(cfg, edge_index, num_nodes).to(args.device)
    x = word_counts(args.batch, num_nodes, device=args.device)
    edge_index = edge_index.to(args.device)
    print(f"(a) text encoder fwd+bwd, B={args.batch}, N={num_nodes}, E={edge_index.shape[1]}")
    fns = {"static": fwd_bwd(encoder, lambda: encoder(x))}
    if not args.skip_pyg:
        twins = pyg_twins(encoder)
        batch = graph_batch(x, edge_index)
        fns["pyg"] = fwd_bwd(encoder, lambda: pyg_encode(encoder, twins, batch, args.batch))
        fns["build"] = lambda: graph_batch(x, edge_index)
    seconds = interleaved_seconds(fns, max(3, args.repeats // 2))
    static = seconds["static"]
    print(f"    static graph     : {args.batch / static:9.1f} texts/s  ({static * 1e3:.1f} ms)")
    if args.skip_pyg:
        return
    with torch.no_grad():
        gap = (pyg_encode(encoder, twins, batch, args.batch) - encoder(x)).abs().max().item()
    layers, build = seconds["pyg"], seconds["build"]
    print(f"    PyG Batch copies : {args.batch / layers:9.1f} texts/s  ({layers * 1e3:.1f} ms; "
          f"+{build * 1e3:.1f} ms to build the Batch)")
    print(f"    ratio static/PyG : {layers / static:9.1f}x layers only, "
          f"{(layers + build) / static:.1f}x with the Batch built  (target >= 10x; "
          f"outputs agree to {gap:.1e})")


# --- (b) one dual-path training step against the matmul bound -----------------------------------

OPTIMIZERS = {"Adam for-loop": {"foreach": False}, "Adam foreach": {"foreach": True},
              "Adam fused": {"fused": True}}


def bench_step(args: Args, edge_index: torch.Tensor, num_nodes: int) -> Callable[[], None]:
    cfg = ModelConfig(filters=args.filters, embed_dim=args.embed_dim)
    model = build_dual_path(cfg, edge_index, num_nodes, args.image_dim).to(args.device).train()
    inputs = step_inputs(args, num_nodes, args.device)
    print(f"(b) dual-path training step, B={args.batch}, N={num_nodes}, d={args.embed_dim}, "
          f"image dim {args.image_dim}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
          "parameters")
    flops, matmuls = fc_matmuls(fc_matmul_shapes(args, num_nodes), args.device)
    steps = {name: make_step(model, torch.optim.Adam(model.parameters(), lr=1e-4, **options),
                             *inputs) for name, options in OPTIMIZERS.items()}
    seconds = interleaved_seconds({"matmuls": matmuls, **steps}, args.repeats, warmup=2)
    bound = seconds["matmuls"]
    print(f"    matmul rate      : {flops / bound / 1e9:9.1f} GFLOP/s at the FC shapes; "
          f"{flops / args.batch / 1e6:.1f} MFLOP per pair -> bound {args.batch / bound:.0f} "
          "pairs/s")
    for name in OPTIMIZERS:
        print(f"    step, {name:13s}: {args.batch / seconds[name]:9.1f} pairs/s  "
              f"({seconds[name] * 1e3:.1f} ms)  = {bound / seconds[name]:.2f} of the bound  "
              "(target >= 0.5)")
    return steps["Adam fused"]


def print_profile(step: Callable[[], None], rows: int = 12) -> None:
    """Top ops of a few steps by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    edge_index, num_nodes = load_graph(args)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    with reused_memory():  # as train_epoch runs its steps
        bench_encoder(args, edge_index, num_nodes)
        step = bench_step(args, edge_index, num_nodes)
        if args.profile:
            print_profile(step)


if __name__ == "__main__":
    main()
