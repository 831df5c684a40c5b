"""Training on a machine with a GPU: ``train.use_gpu`` decides where the loop runs, also in
local mode, where Ray hands the driver ``cuda:0`` whatever was asked, and validation scores
where the weights are. Skipped where torch sees no GPU (CI); run on a GPU machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from finelabel.config import load_config
from finelabel.data.prepared import PreparedData
from finelabel.labels import fit_hardness_bins
from finelabel.models import ScoreHead
from finelabel.run_folder import RunFolder
from finelabel.train.hardness import save_label_model
from finelabel.train.job import TrainJob
from finelabel.train.loop import hardness_source
from finelabel.train.trainer import fit

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _fit(folder: RunFolder, tmp_path: Path, task: str, use_gpu: bool,
         pairing: str = "sampled") -> dict:
    config = load_config(None, ["model.embed_dim=32", f"train.pairing={pairing}",
                                "train.epochs=1", "train.batch_size=16", "train.num_workers=0",
                                f"train.use_gpu={str(use_gpu).lower()}"])
    job = TrainJob(task, str(folder.root), str(tmp_path / task), config.model, config.loss,
                   config.train)
    if pairing == "in_batch":  # the labels of in-batch pairs come from the label model
        assert hardness_source(job, job.training_task()) is not None
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


def _with_label_model(folder: RunFolder, tmp_path: Path) -> RunFolder:
    """A copy of ``folder`` with a label model of random embeddings: what in-batch pairs need."""
    copy = RunFolder.at(shutil.copytree(folder.root, tmp_path / "labelled"))
    labels = PreparedData.load(copy.root).labels
    rng = np.random.default_rng(0)
    embeddings = rng.standard_normal((len(labels), 8)).astype(np.float32)
    head = ScoreHead(8, dropout=0.0).eval()
    a, b = rng.integers(0, len(labels), 2000), rng.integers(0, len(labels), 2000)
    with torch.no_grad():
        r = head(torch.from_numpy(embeddings[a]), torch.from_numpy(embeddings[b])).numpy()
    bins = fit_hardness_bins(r, labels[a] == labels[b], 9)
    save_label_model(copy.label_model, embeddings[None], [head],
                     np.zeros(len(labels), dtype=np.int64), bins)
    return copy


def test_in_batch_pairs_with_label_model_labels_train_on_the_gpu(paired, tmp_path):
    """The label model scores on the CPU; its (B, B) labels must reach the GPU with the batch."""
    metrics = _fit(_with_label_model(paired, tmp_path), tmp_path, "dual", use_gpu=True,
                   pairing="in_batch")
    assert metrics["epoch"] == 1
    assert metrics["gpu_bytes"] > 0
    maps = [v for k, v in metrics.items() if k.startswith("val_map_")]
    assert maps and all(0 < v <= 1 for v in maps)
