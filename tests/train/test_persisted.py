"""The newest checkpoint a run left on its storage, which a rerun resumes from when Ray had
not registered it (the driver killed between the worker's write and the controller's record)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from finelabel.config import ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.models import create_model
from finelabel.train.checkpoint import MODEL_FILE, save_checkpoint
from finelabel.train.persisted import latest_persisted

SMALL = ModelConfig(embed_dim=16)


def _save(folder: Path, data: PreparedData, epoch: int) -> Path:
    model = create_model("dual", SMALL, data)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": epoch, "best": 0.5}
    return save_checkpoint(folder, model, task="dual", cfg=SMALL, data=data, state=state)


@pytest.fixture()
def data(prepared_synthetic: Path) -> PreparedData:
    return PreparedData.load(prepared_synthetic)


def test_the_checkpoint_of_the_highest_epoch_is_found(data, tmp_path):
    run = tmp_path / "ray" / "run"
    for name, epoch in [("checkpoint_2026-12-04_10-00-01", 1),
                        ("checkpoint_2026-12-04_10-00-03", 3),
                        ("checkpoint_2026-12-04_10-00-02", 2)]:
        _save(run / name, data, epoch)
    (run / "checkpoint_manager_snapshot.json").write_text("{}")
    (run / "not_a_checkpoint").mkdir()
    assert latest_persisted(tmp_path / "ray", "run") == (
        str(run / "checkpoint_2026-12-04_10-00-03"), 3)


def test_a_half_written_checkpoint_is_passed_over_saying_so(data, tmp_path, caplog):
    run = tmp_path / "ray" / "run"
    _save(run / "checkpoint_a", data, 1)
    newest = _save(run / "checkpoint_b", data, 2)
    weights = newest / MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:100])  # the kill came mid-copy
    with caplog.at_level(logging.WARNING, logger="finelabel.train.persisted"):
        assert latest_persisted(tmp_path / "ray", "run") == (str(run / "checkpoint_a"), 1)
    assert "not resuming from" in caplog.text and "checkpoint_b" in caplog.text


def test_a_run_that_left_nothing_has_no_checkpoint(tmp_path):
    assert latest_persisted(tmp_path / "ray", "never-ran") is None
    (tmp_path / "ray" / "empty" / "checkpoint_x").mkdir(parents=True)
    assert latest_persisted(tmp_path / "ray", "empty") is None


def test_on_object_storage_the_newest_whole_checkpoint_is_found(data, tmp_path, bucket):
    """A run on S3 or GCS: the rerun lists and reads the bucket. On GCS, folders without
    marker objects (these: uploaded by ``publish``) were not listed at all."""
    from finelabel.storage import publish

    local = tmp_path / "ray" / "run"
    _save(local / "checkpoint_2026-12-04_10-00-01", data, 1)
    _save(local / "checkpoint_2026-12-04_10-00-02", data, 2)
    newest = _save(local / "checkpoint_2026-12-04_10-00-03", data, 3)
    weights = newest / MODEL_FILE
    weights.write_bytes(weights.read_bytes()[:100])  # the kill came mid-upload
    publish(local, f"{bucket}/ray/run")
    assert latest_persisted(f"{bucket}/ray", "run") == (
        f"{bucket}/ray/run/checkpoint_2026-12-04_10-00-02", 2)
    assert latest_persisted(f"{bucket}/ray", "never-ran") is None
