"""Training on a machine with a GPU: ``train.use_gpu`` decides where the loop runs, also in
local mode, where Ray hands the driver ``cuda:0`` whatever was asked, and validation scores
where the weights are. Skipped where torch sees no GPU (CI); run on a GPU machine."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from finelabel.config import load_config
from finelabel.run_folder import RunFolder
from finelabel.train.job import TrainJob
from finelabel.train.trainer import fit

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _fit(folder: RunFolder, tmp_path: Path, task: str, use_gpu: bool) -> dict:
    config = load_config(None, ["model.embed_dim=32", "train.pairing=sampled", "train.epochs=1",
                                "train.num_workers=0", f"train.use_gpu={str(use_gpu).lower()}"])
    job = TrainJob(task, str(folder.root), str(tmp_path / task), config.model, config.loss,
                   config.train)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    outcome = fit(job, folder.pairs("train" if task == "dual" else "siamese"),
                  storage_path=tmp_path / "ray", run_name=f"{task}-{use_gpu}")
    return {**outcome.last_metrics, "gpu_bytes": torch.cuda.max_memory_allocated()}


@pytest.mark.parametrize("task", ["siamese", "dual"])
def test_a_cpu_run_in_local_mode_stays_off_the_gpu(paired, tmp_path, task):
    """It once trained on cuda:0 and then failed validating: scores mixed cuda and CPU."""
    metrics = _fit(paired, tmp_path, task, use_gpu=False)
    assert metrics["epoch"] == 1
    assert metrics["gpu_bytes"] == 0


@pytest.mark.parametrize("task", ["siamese", "dual"])
def test_a_gpu_run_trains_and_validates_on_the_gpu(paired, tmp_path, task):
    metrics = _fit(paired, tmp_path, task, use_gpu=True)
    assert metrics["epoch"] == 1
    assert metrics["gpu_bytes"] > 0
    maps = [v for k, v in metrics.items() if k.startswith("val_map_")]
    assert maps and all(0 < v <= 1 for v in maps)
