"""Checkpoints load with weights_only=True; a damaged or foreign one is refused in one line."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from finelabel.config import ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.errors import FinelabelError
from finelabel.models import create_model
from finelabel.train.checkpoint import (
    META_FILE,
    MODEL_FILE,
    STATE_FILE,
    load_model,
    load_state,
    save_checkpoint,
)

SMALL = ModelConfig(embed_dim=32)


@pytest.fixture()
def checkpoint(prepared_synthetic: Path, tmp_path: Path) -> tuple[Path, PreparedData]:
    data = PreparedData.load(prepared_synthetic)
    model = create_model("dual", SMALL, data)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": 2, "best": float("-inf")}
    path = save_checkpoint(tmp_path / "ckpt", model, task="dual", cfg=SMALL, data=data,
                           state=state)
    return path, data


def test_a_sound_checkpoint_loads_weights_and_state(checkpoint):
    path, data = checkpoint
    assert load_model(path, data, task="dual").training is False
    assert load_state(path)["epoch"] == 2


def _refused(call) -> str:
    with pytest.raises(FinelabelError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_truncated_weights_file_is_refused(checkpoint):
    path, data = checkpoint
    weights = path / MODEL_FILE
    weights.write_bytes(weights.read_bytes()[: os.path.getsize(weights) // 2])
    message = _refused(lambda: load_model(path, data))
    assert message.startswith(f"{weights}: not a readable checkpoint file")


def test_a_file_that_would_run_code_is_refused(checkpoint, tmp_path):
    path, data = checkpoint
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (path / STATE_FILE).write_bytes(pickle.dumps({"optimizer": Payload()}))
    _refused(lambda: load_state(path))
    torch.save({"x": Payload()}, path / MODEL_FILE)
    _refused(lambda: load_model(path, data))
    assert not marker.exists()


def test_weights_of_another_architecture_are_refused(checkpoint):
    path, data = checkpoint
    meta = json.loads((path / META_FILE).read_text())
    meta["model"]["embed_dim"] = 64
    (path / META_FILE).write_text(json.dumps(meta))
    assert "do not fit the model" in _refused(lambda: load_model(path, data))


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"task": "dual"}'])
def test_foreign_or_damaged_metadata_is_refused(checkpoint, text):
    path, data = checkpoint
    (path / META_FILE).write_text(text)
    assert str(path / META_FILE) in _refused(lambda: load_model(path, data))


def test_a_folder_without_metadata_is_not_a_checkpoint(checkpoint, tmp_path):
    path, data = checkpoint
    shutil.copytree(path, tmp_path / "copy")
    (tmp_path / "copy" / META_FILE).unlink()
    assert "not a finelabel checkpoint" in _refused(lambda: load_model(tmp_path / "copy", data))


def test_a_checkpoint_of_the_other_task_is_refused(checkpoint):
    path, data = checkpoint
    assert "a dual checkpoint, expected siamese" in _refused(
        lambda: load_model(path, data, task="siamese"))
