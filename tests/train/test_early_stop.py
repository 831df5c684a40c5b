"""Early stopping (``train.patience``): when it stops, that every DDP rank stops with rank 0
(the one that validates), and that a training run ends there."""

from __future__ import annotations

from pathlib import Path

import pytest

from finelabel.config import load_config
from finelabel.run_folder import RunFolder
from finelabel.train.job import TrainJob
from finelabel.train.loop import stop_early
from finelabel.train.trainer import fit
from tests.train.test_across_workers import _run_two


@pytest.mark.parametrize(("patience", "epoch", "best_epoch", "stops"), [
    (0, 30, 1, False),  # 0 turns it off
    (2, 3, 2, False),
    (2, 4, 2, True),
    (2, 9, 2, True),
    (1, 1, 0, True),  # best_epoch 0: no epoch has scored yet
])
def test_it_stops_once_patience_epochs_bring_no_better_score(patience, epoch, best_epoch,
                                                             stops):
    assert stop_early(patience, epoch, best_epoch, world_size=1) is stops


def _rank_worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    try:
        # only rank 0 validates: its best epoch says stop, rank 1's own (unused) one would not
        best_epoch = 1 if rank == 0 else 5
        Path(out, f"{rank}.txt").write_text(str(stop_early(2, 5, best_epoch, world_size=2)))
    finally:
        dist.destroy_process_group()


def test_every_rank_follows_rank_zero(tmp_path: Path):
    _run_two(_rank_worker, str(tmp_path))
    assert [(tmp_path / f"{r}.txt").read_text() for r in range(2)] == ["True", "True"]


@pytest.mark.slow
def test_a_run_without_a_better_score_ends_after_patience_epochs(paired: RunFolder, tmp_path):
    """A step too small to change any ranking: epoch 1 stays the best, so 2 + 1 epochs run."""
    config = load_config(None, ["model.embed_dim=32", "train.pairing=sampled",
                                "train.num_workers=0", "train.epochs=8", "train.patience=2",
                                "train.lr=1e-12", "train.weight_decay=0"])
    job = TrainJob("dual", str(paired.root), str(tmp_path / "model"), config.model, config.loss,
                   config.train)
    outcome = fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="patience")
    assert outcome.last_metrics["epoch"] == 3
    assert outcome.metrics["epoch"] == 1  # the kept model is the best one
