"""The Ray-free parts of training: pair lookup, one epoch, checkpoints, validation MAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from finelabel.config import LossConfig, ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import evaluate_model, split_map
from finelabel.models import create_model
from finelabel.stages.pairs import sampled_pairs
from finelabel.train.checkpoint import load_model, save_checkpoint
from finelabel.train.steps import train_epoch
from finelabel.train.tasks import get_task

SMALL_MODEL = ModelConfig(embed_dim=64)


def _batches(data: PreparedData, task: str, n: int = 2048, size: int = 64, seed: int = 0):
    frame = sampled_pairs(data, n, seed=seed, task=task)
    columns = {k: frame[k].to_numpy() for k in frame.columns}
    return [get_task(task).batch({k: v[i:i + size] for k, v in columns.items()}, data)
            for i in range(0, n, size)]


def test_pair_batch_looks_up_items(prepared_synthetic: Path) -> None:
    data = PreparedData.load(prepared_synthetic)
    batch = {"text_idx": np.array([0, 5]), "image_idx": np.array([5, 7]),
             "positive": np.array([True, False]), "hardness": np.array([0.5, 1.0])}
    dual = get_task("dual").batch(batch, data)
    assert dual.left.shape == (2, data.num_nodes) and dual.right.shape == (2, data.image_dim)
    torch.testing.assert_close(dual.right[0], torch.from_numpy(data.image_features[5]))
    siamese = get_task("siamese").batch({"text_a": batch["text_idx"],
                                         "text_b": batch["image_idx"],
                                         "positive": batch["positive"]}, data)
    assert siamese.right.shape == (2, data.num_nodes)
    assert dual.hardness.tolist() == [0.5, 1.0]


def test_training_raises_validation_map_well_above_chance(prepared_synthetic: Path) -> None:
    torch.manual_seed(0)
    data = PreparedData.load(prepared_synthetic)
    model = create_model("dual", SMALL_MODEL, data)
    before = split_map(model, data, "val")["avg"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = [train_epoch(model, _batches(data, "dual", seed=e), optimizer, LossConfig(),
                          beta=0.0)["train_loss"] for e in range(6)]
    after = split_map(model, data, "val")["avg"]
    chance = 1 / len(data.manifest["categories"])
    assert losses[-1] < losses[0]
    assert after > max(before, chance) + 0.15, (before, after, chance)


def test_checkpoint_round_trip_rebuilds_the_same_model(prepared_synthetic, tmp_path) -> None:
    data = PreparedData.load(prepared_synthetic)
    model = create_model("dual", SMALL_MODEL, data).eval()
    save_checkpoint(tmp_path, model, task="dual", cfg=SMALL_MODEL, data=data,
                    metrics={"val_map_avg": 0.5})
    loaded = load_model(tmp_path, data, task="dual")
    ids = data.indices("test")[:8]
    torch.testing.assert_close(loaded(data.texts(ids), data.images(ids)),
                               model(data.texts(ids), data.images(ids)))


def test_evaluation_report_has_both_protocols(prepared_synthetic: Path) -> None:
    data = PreparedData.load(prepared_synthetic)
    report = evaluate_model(create_model("dual", SMALL_MODEL, data).eval(), data, top_k=10)
    assert set(report["test"]) == {"all", "train_at_10"}
    for values in report["test"].values():
        assert set(values) == {"i2t", "t2i", "avg"}
        assert 0.0 <= values["avg"] <= 1.0
    assert set(report["per_class"]["i2t"]) == set(range(5))
    recall, precision = report["pr_curves"]["t2i"]
    assert len(recall) == len(precision) == 11
