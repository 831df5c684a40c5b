"""Training throughput as a user runs it (``fit``, the default recipe): Ray Train with one
worker against the loop in this process (``num_workers=0``), and two DDP workers against one
at the same global batch (each worker takes half of it).

Steady state is the loop's own pairs/s over epochs 2.. (the first carries the dataset's and
the process group's warm-up); rank 0 reports its shard, and a synchronous DDP step makes every
rank's the same, so the global figure is rank 0's times the workers.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from finelabel.config import Config


def steady_pairs_per_s(history: list[dict[str, float]]) -> float:
    """Median pairs/s of the epochs after the first (the only one if there is one)."""
    rates = [h["pairs_per_s"] for h in history if "pairs_per_s" in h]
    if not rates:
        raise ValueError("no epoch reported its pairs/s")
    return statistics.median(rates[1:] or rates)


def train_throughput(config: Config, run_folder: Path, *, workers: int, epochs: int,
                     tag: str) -> dict[str, Any]:
    """``epochs`` epochs of the dual-path model on ``run_folder``'s pairs, no MLflow."""
    from finelabel.run_folder import RunFolder
    from finelabel.tracking.funnel import read_history
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import fit

    folder = RunFolder.at(run_folder)
    work = folder.root / "throughput" / tag
    shutil.rmtree(work, ignore_errors=True)  # a checkpoint left here would be resumed, not timed
    train = dataclasses.replace(config.train, num_workers=workers, epochs=epochs, patience=0,
                                max_failures=0)
    job = TrainJob("dual", str(folder.root), str(work / "model"), config.model, config.loss,
                   train)
    pairs = folder.pairs("labelled" if config.loss.beta > 0 else "train")
    started = time.perf_counter()
    fit(job, pairs, storage_path=work / "ray_results", run_name=tag)
    wall = time.perf_counter() - started
    history = read_history(job.history_path())
    return {"workers": workers, "epochs": len(history), "wall_s": wall,
            "pairs_per_s": steady_pairs_per_s(history) * max(workers, 1)}


def training_ratios(config: Config, run_folder: Path, *, epochs: int) -> dict[str, Any]:
    """{"ray_train_1w_vs_plain", "ddp_2w_vs_1w", "runs"}: three runs, one after another."""
    runs = {tag: train_throughput(config, run_folder, workers=workers, epochs=epochs, tag=tag)
            for tag, workers in (("plain", 0), ("ray_1w", 1), ("ray_2w", 2))}
    rate = {tag: run["pairs_per_s"] for tag, run in runs.items()}
    return {"ray_train_1w_vs_plain": rate["ray_1w"] / rate["plain"],
            "ddp_2w_vs_1w": rate["ray_2w"] / rate["ray_1w"], "runs": runs}
