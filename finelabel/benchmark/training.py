"""Training throughput as a user runs it (``fit``, the default recipe): Ray Train with one
worker against the loop in this process (``num_workers=0``), and two DDP workers against one
at the same global batch (each worker takes half of it).

Steady state is the loop's own epoch time over epochs 2.. (the first carries the dataset's and
the process group's warm-up): rank 0's training seconds, which a synchronous DDP step makes
every rank's. Every run covers the same training items at the same global batch, so the ratios
are of epoch times. (Pairs/s would mislead: with in-batch pairing a batch of B items gives B^2
pairs, and two workers' halves give half as many.)
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from finelabel.config import Config


def steady_epochs(history: list[dict[str, float]]) -> list[float]:
    """Training seconds of the epochs after the first (the only one if there is one)."""
    seconds = [h["train_pairs"] / h["pairs_per_s"] for h in history
               if h.get("pairs_per_s") and "train_pairs" in h]
    if not seconds:
        raise ValueError("no epoch reported its training time")
    return seconds[1:] or seconds


def steady_epoch_seconds(history: list[dict[str, float]]) -> float:
    """Median training seconds of the epochs after the first (the only one if there is one)."""
    return statistics.median(steady_epochs(history))


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
    threads = torch.get_num_threads()
    if workers == 0:  # a Ray Train worker holds 1 CPU and so runs 1 thread: compare like that
        torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        fit(job, pairs, storage_path=work / "ray_results", run_name=tag)
        wall = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    history = read_history(job.history_path())
    return {"workers": workers, "epochs": len(history), "wall_s": wall,
            "epoch_s": steady_epoch_seconds(history), "steady_s": steady_epochs(history)}


def training_ratios(config: Config, run_folder: Path, *, epochs: int,
                    rounds: int = 1) -> dict[str, Any]:
    """{"ray_train_1w_vs_plain", "ddp_2w_vs_1w", "runs"}: the three runs one after another,
    ``rounds`` times over; each run's ``epoch_s`` is the median of its steady epochs over every
    round. On a shared machine one round's ratio of the same code spread 0.85-1.14; taking
    turns spreads a passing load over all three."""
    tags = (("plain", 0), ("ray_1w", 1), ("ray_2w", 2))
    per_round = [{tag: train_throughput(config, run_folder, workers=workers, epochs=epochs,
                                        tag=tag) for tag, workers in tags}
                 for _ in range(rounds)]
    runs = {tag: {"workers": workers, "epochs": per_round[0][tag]["epochs"],
                  "wall_s": statistics.median(r[tag]["wall_s"] for r in per_round),
                  "epoch_s": statistics.median(s for r in per_round for s in r[tag]["steady_s"]),
                  "rounds": [r[tag] for r in per_round]}
            for tag, workers in tags}
    seconds = {tag: run["epoch_s"] for tag, run in runs.items()}
    return {"ray_train_1w_vs_plain": seconds["plain"] / seconds["ray_1w"],
            "ddp_2w_vs_1w": seconds["ray_1w"] / seconds["ray_2w"], "runs": runs}
