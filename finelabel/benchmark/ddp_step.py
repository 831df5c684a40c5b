"""Two DDP workers against one at the same global batch, at English Wikipedia's model size
(:class:`StepShape`: 10k-word graph, 1024-d embeddings, 4096-d image features): one process
with one thread taking the whole batch, and two gloo processes on 127.0.0.1 taking half each,
as Ray Train's CPU workers do (one CPU, one thread each).

Two ways to share the gradients are timed: plain DDP (an all-reduce of every gradient, ~14M
numbers a step) and DDP with the big layers' gradient factors (``train.shared_factors``). The
all-reduce of the whole gradient is timed alone too: on loopback it is what limits plain DDP.
Each configuration runs in fresh processes, in turns, and the medians are compared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from finelabel.benchmark.train_step import StepShape, knn_graph, make_step, step_inputs

MODES = ("one", "plain", "factors")


def _run(rank: int, world: int, port: int, mode: str, shape: StepShape, steps: int,
         out: str) -> None:
    import torch.distributed as dist

    from finelabel.config import ModelConfig
    from finelabel.models import build_dual_path
    from finelabel.train.reused_memory import reused_memory
    from finelabel.train.shared_factors import broadcast_parameters, share_factors

    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=world)
    torch.manual_seed(0)
    model = build_dual_path(ModelConfig(filters=shape.filters, embed_dim=shape.embed_dim),
                            knn_graph(shape.nodes), shape.nodes, shape.image_dim).train()
    shared = share_factors(model, shape.batch) if mode == "factors" else []
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
        broadcast_parameters(model.module, shared)
    half = StepShape(**{**asdict(shape), "batch": shape.batch // world})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    step = make_step(model, optimizer, *step_inputs(half, shape.nodes))
    seconds = []
    with reused_memory():  # as train_epoch runs its steps
        for index in range(steps + 2):  # two warm-up steps
            started = time.perf_counter()
            step()
            if index >= 2:
                seconds.append(time.perf_counter() - started)
    result: dict[str, Any] = {"step_s": statistics.median(seconds)}
    if world > 1 and mode == "plain":  # the all-reduce alone, of as many numbers as DDP's
        numbers = sum(p.numel() for p in model.parameters())
        buffer = torch.randn(numbers)
        started = time.perf_counter()
        for _ in range(3):
            dist.all_reduce(buffer)
        result.update(all_reduce_s=(time.perf_counter() - started) / 3, numbers=numbers)
    if rank == 0:
        torch.save(result, out)
    if world > 1:
        dist.destroy_process_group()


def _timed(mode: str, shape: StepShape, steps: int, folder: Path) -> dict[str, Any]:
    import torch.multiprocessing as mp

    from finelabel.stages.ray_session import free_port

    world = 1 if mode == "one" else 2
    out = folder / f"{mode}.pt"
    context = mp.get_context("spawn")
    port = free_port()
    workers = [context.Process(target=_run, args=(rank, world, port, mode, shape, steps,
                                                   str(out))) for rank in range(world)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    codes = [worker.exitcode for worker in workers]
    if codes != [0] * world:
        raise RuntimeError(f"the {mode} DDP step run failed (exit codes {codes})")
    return torch.load(out, weights_only=True)


def ddp_step_ratios(shape: StepShape, *, steps: int = 8,
                    rounds: int = 2) -> dict[str, Any]:
    """{"factors": t1 / t2, "plain": t1 / t2 with plain DDP, the seconds, the all-reduce}."""
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for mode in MODES:
                runs[mode].append(_timed(mode, shape, steps, Path(folder)))
    seconds = {mode: statistics.median(r["step_s"] for r in results)
               for mode, results in runs.items()}
    reduce = runs["plain"][-1]
    return {"factors": seconds["one"] / seconds["factors"],
            "plain": seconds["one"] / seconds["plain"],
            "step_s": seconds, "all_reduce_s": reduce["all_reduce_s"],
            "gradient_numbers": reduce["numbers"], "shape": asdict(shape)}
