"""The benchmark's figures that need no Ray, on every device this machine has.

``finelabel benchmark`` needs Ray, MLflow and the whole stack; a machine lent for minutes (an
accelerator with its own Python) may have none of them. This script measures what does not
need them, with the same library functions as the benchmark:

- the dual-path training step against its FC-matmul bound (``train_step_fraction_of_bound``
  and its ceiling) on the CPU, at 2 threads (as the 2-core figures) and at all cores, and on
  the GPU if there is one, at English Wikipedia's size and at larger batches and vocabularies;
- two DDP workers against one at the same global batch (``ddp_2w_vs_1w``), gloo on the CPU.

Each measurement that fails is reported with its error and the rest go on.

    python benchmarks/bench_step_devices.py [--out figures.json] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import traceback
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from finelabel.benchmark.ddp_step import ddp_step_ratios
from finelabel.benchmark.train_step import StepShape, step_fraction_of_bound

WIKIPEDIA = StepShape()  # batch 128, |V| 10k, d 1024, image 4096
GPU_SHAPES = (WIKIPEDIA, StepShape(batch=1024, nodes=50_000), StepShape(batch=2048,
                                                                        nodes=100_000))
QUICK = StepShape(batch=32, nodes=1_000, embed_dim=128, image_dim=256)


def attempt(name: str, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one measurement; a failure becomes its record instead of ending the script."""
    print(f"... {name}", flush=True)
    try:
        return {"name": name, **measure()}
    except Exception as error:  # noqa: BLE001 - reported, and the other figures still count
        traceback.print_exc()
        return {"name": name, "error": f"{type(error).__name__}: {error}"}


def step_record(shape: StepShape, device: str, threads: int, repeats: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    result = step_fraction_of_bound(shape, repeats=repeats, device=device)
    return {"device": device, "threads": threads, **result}


def machine() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cores": os.cpu_count(), "torch": torch.__version__, "gpu": gpu,
            "python": platform.python_version(), "platform": platform.platform()}


def step_table(records: list[dict[str, Any]]) -> str:
    lines = ["| device | threads | batch | |V| | step ms | bound ms | fraction | ceiling | "
             "pairs/s | GFLOP/s at the FC shapes |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['name']} | failed: {r['error']} |||||||||")
            continue
        shape = r["shape"]
        lines.append(f"| {r['device']} | {r['threads']} | {shape['batch']} | "
                     f"{shape['nodes']:,} | {r['ms']['step']:.2f} | {r['ms']['bound']:.2f} | "
                     f"{r['fraction']:.2f} | {r['ceiling']:.2f} | "
                     f"{r['step_pairs_per_s']:,.0f} | {r['gflops']:,.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the figures here as JSON")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks the script")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    cpu_shapes = (QUICK,) if args.quick else (WIKIPEDIA,)
    gpu_shapes = (QUICK,) if args.quick else GPU_SHAPES
    steps = []
    for shape in cpu_shapes:
        for threads in sorted({min(2, cores), cores}):
            steps.append(attempt(f"cpu step, {threads} threads, {shape}",
                                 lambda s=shape, t=threads: step_record(s, "cpu", t,
                                                                        args.repeats)))
    if torch.cuda.is_available():
        for shape in gpu_shapes:
            steps.append(attempt(f"cuda step, {shape}",
                                 lambda s=shape: step_record(s, "cuda", cores, args.repeats)))
    torch.set_num_threads(cores)
    ddp = attempt("2 DDP workers against 1 (gloo, CPU)",
                  lambda: ddp_step_ratios(QUICK if args.quick else WIKIPEDIA,
                                          steps=args.repeats, rounds=1 if args.quick else 2))
    result = {"machine": machine(), "train_step": steps, "ddp_step": ddp}
    print(f"\nmachine: {result['machine']}\n")
    print(step_table(steps))
    if "error" in ddp:
        print(f"\nddp_2w_vs_1w: failed: {ddp['error']}")
    else:
        print(f"\nddp_2w_vs_1w (gradient factors) {ddp['factors']:.2f}, plain DDP "
              f"{ddp['plain']:.2f}; step seconds {ddp['step_s']}; all-reduce of "
              f"{ddp['gradient_numbers']:,} numbers {ddp['all_reduce_s'] * 1e3:.1f} ms "
              f"(shape {asdict(QUICK if args.quick else WIKIPEDIA)})")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2, default=str)


if __name__ == "__main__":
    main()
