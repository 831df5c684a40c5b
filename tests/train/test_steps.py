"""The Ray-free parts of training: pair lookup, one epoch, checkpoints, validation MAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from finelabel.config import LossConfig, ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import evaluate_model, split_map
from finelabel.models import create_model
from finelabel.stages.pairs import sampled_pairs
from finelabel.train.checkpoint import load_model, save_checkpoint
from finelabel.train.steps import train_epoch
from finelabel.train.tasks import get_task
from tests.metrics.test_metrics import naive_ap

SMALL_MODEL = ModelConfig(embed_dim=64)


def _batches(data: PreparedData, task: str, n: int = 2048, size: int = 64, seed: int = 0):
    frame = sampled_pairs(data, n, seed=seed, task=task)
    columns = {k: frame[k].to_numpy() for k in frame.columns}
    return [get_task(task).batch({k: v[i:i + size] for k, v in columns.items()}, data)
            for i in range(0, n, size)]


def test_pair_batch_looks_up_items(prepared_synthetic: Path) -> None:
    """Every row is the item its pair names: a lookup by the wrong column or row must fail."""
    data = PreparedData.load(prepared_synthetic)
    left, right = np.array([0, 5, 9]), np.array([5, 7, 0])
    batch = {"text_idx": left, "image_idx": right, "positive": np.array([True, False, True]),
             "hardness": np.array([0.5, 1.0, 0.25])}

    def texts(ids: np.ndarray) -> torch.Tensor:  # straight from the CSR matrix
        return torch.from_numpy(data.text_signals[ids].toarray())

    dual = get_task("dual").batch(batch, data)
    assert dual.left.shape == (3, data.num_nodes) and dual.right.shape == (3, data.image_dim)
    torch.testing.assert_close(dual.left, texts(left), rtol=0, atol=0)
    torch.testing.assert_close(dual.right, torch.from_numpy(data.image_features[right]),
                               rtol=0, atol=0)
    assert dual.positive.tolist() == [True, False, True]
    assert dual.hardness.tolist() == [0.5, 1.0, 0.25]
    assert dual.left_labels.tolist() == data.labels[left].tolist()
    assert dual.right_labels.tolist() == data.labels[right].tolist()
    siamese = get_task("siamese").batch({"text_a": left, "text_b": right,
                                         "positive": batch["positive"]}, data)
    assert siamese.right.shape == (3, data.num_nodes)
    torch.testing.assert_close(siamese.left, texts(left), rtol=0, atol=0)
    torch.testing.assert_close(siamese.right, texts(right), rtol=0, atol=0)
    assert siamese.hardness is None
    assert not torch.equal(texts(left), texts(right))  # the rows tell the items apart


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
    """Each protocol's MAP and the per-class AP equal a naive computation over the scores of
    the model's own embeddings: "all" ranks the test set whole, "train_at_10" the top 10 of
    train + val. (Untrained scores come within 1e-7 of each other: the score matrix is the
    one the report ranks, so that near-ties rank alike; test_models checks it against the
    pairwise forward.)"""
    torch.manual_seed(0)
    data = PreparedData.load(prepared_synthetic)
    model = create_model("dual", SMALL_MODEL, data).eval()
    report = evaluate_model(model, data, top_k=10)
    assert set(report["test"]) == {"all", "train_at_10"}
    for values in report["test"].values():
        assert set(values) == {"i2t", "t2i", "avg"}
        assert 0.0 <= values["avg"] <= 1.0

    test = data.indices("test")
    train = np.concatenate([data.indices("train"), data.indices("val")])

    def scores(texts: np.ndarray, images: np.ndarray) -> np.ndarray:
        """(len(texts), len(images)) s(T, I) of every text with every image."""
        with torch.no_grad():
            return model.score_matrix(model.encode_text(data.texts(texts)),
                                      model.encode_image(data.images(images))).numpy()

    def naive(rows: np.ndarray, db: np.ndarray, k: int | None) -> np.ndarray:
        return np.array([naive_ap(row.tolist(), data.labels[q], data.labels[db].tolist(), k)
                         for q, row in zip(test, rows)])

    expected = {"all": {"i2t": naive(scores(test, test).T, test, None),
                        "t2i": naive(scores(test, test), test, None)},
                "train_at_10": {"i2t": naive(scores(train, test).T, train, 10),
                                "t2i": naive(scores(test, train), train, 10)}}
    for protocol, per_query in expected.items():
        for name, ap in per_query.items():
            assert report["test"][protocol][name] == pytest.approx(ap.mean(), abs=1e-6), (
                protocol, name)
        assert report["test"][protocol]["avg"] == pytest.approx(
            (per_query["i2t"].mean() + per_query["t2i"].mean()) / 2, abs=1e-6)
    assert report["test"]["all"]["avg"] != pytest.approx(report["test"]["train_at_10"]["avg"])
    labels = data.labels[test]
    for name, ap in expected["all"].items():
        per_class = report["per_class"][name]
        assert set(per_class) == set(range(5))
        for c, value in per_class.items():
            assert value == pytest.approx(ap[labels == c].mean(), abs=1e-6), (name, c)
        counts = np.bincount(labels)
        overall = sum(per_class[c] * counts[c] for c in per_class) / counts.sum()
        assert overall == pytest.approx(report["test"]["all"][name], abs=1e-6)
    recall, precision = report["pr_curves"]["t2i"]
    assert len(recall) == len(precision) == 11


def test_an_item_batch_pairs_every_text_with_every_image(prepared_synthetic: Path) -> None:
    data = PreparedData.load(prepared_synthetic)
    ids = data.indices("train")[[0, 7, 40, 41]]
    batch = get_task("dual").item_batch(ids, data)
    assert batch.all_pairs and batch.num_pairs == 16 and batch.hardness is None
    labels = data.labels[ids]
    assert batch.positive.tolist() == (labels[:, None] == labels[None, :]).tolist()
    torch.testing.assert_close(batch.right[2], torch.from_numpy(data.image_features[ids[2]]))
    torch.testing.assert_close(batch.left[1], data.texts(ids[1:2])[0])
    assert batch.left_labels.tolist() == labels.tolist()


def test_in_batch_labels_are_the_bins_of_the_siamese_score_of_each_pair(tmp_path) -> None:
    from finelabel.labels import fit_hardness_bins
    from finelabel.models import ScoreHead
    from finelabel.train.hardness import InBatchHardness, save_label_model

    torch.manual_seed(0)
    embeddings = torch.randn(30, 8).numpy()
    head = ScoreHead(8, dropout=0.0).eval()
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 30, 500), rng.integers(0, 30, 500)
    labels = rng.integers(0, 3, 30)
    with torch.no_grad():
        r = head(torch.from_numpy(embeddings[a]), torch.from_numpy(embeddings[b])).numpy()
    bins = fit_hardness_bins(r, labels[a] == labels[b], 9)
    oracle = InBatchHardness.load(save_label_model(tmp_path / "lm", embeddings[None], [head],
                                                   np.zeros(30, dtype=np.int64), bins))
    ids = np.array([3, 17, 5, 29])
    positive = labels[ids][:, None] == labels[ids][None, :]
    matrix = oracle.matrix(ids, ids, positive)
    for i in range(4):
        for j in range(4):
            with torch.no_grad():
                rij = head(torch.from_numpy(embeddings[ids[i:i + 1]]),
                           torch.from_numpy(embeddings[ids[j:j + 1]])).numpy()
            assert matrix[i, j] == pytest.approx(
                bins.labels(rij, np.array([positive[i, j]]))[0], abs=1e-6)
    shuffled = InBatchHardness.load(tmp_path / "lm", shuffle_seed=3).matrix(ids, ids, positive)
    for side in (positive, ~positive):
        assert sorted(shuffled[side]) == pytest.approx(sorted(matrix[side]))


def test_in_batch_training_with_the_label_space_score_learns(prepared_synthetic: Path) -> None:
    torch.manual_seed(0)
    data = PreparedData.load(prepared_synthetic)
    cfg = ModelConfig(embed_dim=64, score="label")
    loss = LossConfig(label_weight=1.0)
    task = get_task("dual")
    model = task.build_model(cfg, data, loss.label_weight)
    before = split_map(model, data, "val")["avg"]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = data.indices("train")
    for epoch in range(8):
        order = np.random.default_rng(epoch).permutation(train)
        batches = [task.item_batch(order[i:i + 32], data) for i in range(0, len(order) - 1, 32)]
        stats = train_epoch(model, batches, optimizer, loss, beta=0.0)
        assert stats["train_pairs"] == sum(b.num_pairs for b in batches)
    after = split_map(model, data, "val")["avg"]
    assert after > max(before, 1 / len(data.manifest["categories"])) + 0.15, (before, after)
