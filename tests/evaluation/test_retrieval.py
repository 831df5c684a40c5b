"""Model evaluation against naive rankings, on a dataset built in memory (no Ray): embeddings
in eval mode and in batches, both protocols, per-class AP, the siamese text-text MAP."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finelabel.config import ModelConfig
from finelabel.evaluation import encode, evaluate_model, siamese_map, split_map
from finelabel.evaluation.retrieval import embed_items
from finelabel.models import create_model
from tests.evaluation.in_memory import CLASSES, separable
from tests.metrics.test_metrics import naive_ap, naive_pr

CFG = ModelConfig(embed_dim=16, dropout=0.5)


@pytest.fixture(scope="module")
def data():
    return separable({"train": 8, "val": 3, "test": 4}, seed=1)


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    return create_model("dual", CFG, data).train()  # dropout on: evaluation must turn it off


def scores(model, data, texts, images) -> np.ndarray:
    """(len(texts), len(images)) s(T, I) of every text with every image, in eval mode."""
    model.eval()
    with torch.no_grad():
        out = model.score_matrix(model.encode_text(data.texts(texts)),
                                 model.encode_image(data.images(images))).numpy()
    model.train()
    return out


def naive_map(matrix: np.ndarray, query_labels, db_labels, k=None) -> np.ndarray:
    return np.array([naive_ap(row.tolist(), q, list(db_labels), k)
                     for row, q in zip(matrix, query_labels)])


def test_encode_runs_in_batches_and_keeps_the_order():
    ids = np.array([4, 0, 3, 1, 2])
    fetch = lambda rows: torch.as_tensor(rows, dtype=torch.float32)[:, None]  # noqa: E731
    calls = []

    def double(x):
        calls.append(len(x))
        return 2 * x

    out = encode(double, fetch, ids, batch_size=2)
    np.testing.assert_array_equal(out[:, 0].numpy(), 2 * ids)
    assert calls == [2, 2, 1]
    assert encode(double, fetch, ids[:0]).numel() == 0


def test_embeddings_are_taken_in_eval_mode_and_the_mode_is_given_back(model, data):
    ids = data.indices("test")
    items = embed_items(model, data, ids)
    assert model.training
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(items.text, model.encode_text(data.texts(ids)))
        torch.testing.assert_close(items.image, model.encode_image(data.images(ids)))
    model.train()
    np.testing.assert_array_equal(items.labels, data.labels[ids])


@pytest.mark.parametrize("split", ["val", "test"])
def test_split_map_ranks_the_split_against_itself(model, data, split):
    ids = data.indices(split)
    s = scores(model, data, ids, ids)
    labels = data.labels[ids]
    i2t, t2i = naive_map(s.T, labels, labels).mean(), naive_map(s, labels, labels).mean()
    got = split_map(model, data, split)
    assert got["i2t"] == pytest.approx(i2t, abs=1e-6)
    assert got["t2i"] == pytest.approx(t2i, abs=1e-6)
    assert got["avg"] == pytest.approx((i2t + t2i) / 2, abs=1e-6)
    assert model.training


def test_evaluation_has_both_protocols_per_class_ap_and_pr_curves(model, data):
    report = evaluate_model(model, data, top_k=5)
    test = data.indices("test")
    db = np.concatenate([data.indices("train"), data.indices("val")])
    labels, db_labels = data.labels[test], data.labels[db]
    whole = {"i2t": naive_map(scores(model, data, test, test).T, labels, labels),
             "t2i": naive_map(scores(model, data, test, test), labels, labels)}
    top = {"i2t": naive_map(scores(model, data, db, test).T, labels, db_labels, 5),
           "t2i": naive_map(scores(model, data, test, db), labels, db_labels, 5)}
    assert set(report["test"]) == {"all", "train_at_5"}
    for protocol, expected in (("all", whole), ("train_at_5", top)):
        for name, ap in expected.items():
            assert report["test"][protocol][name] == pytest.approx(ap.mean(), abs=1e-6)
        assert report["test"][protocol]["avg"] == pytest.approx(
            (expected["i2t"].mean() + expected["t2i"].mean()) / 2, abs=1e-6)
    for name, ap in whole.items():
        assert report["per_class"][name] == pytest.approx(
            {c: ap[labels == c].mean() for c in range(CLASSES)}, abs=1e-6)
    levels = np.linspace(0, 1, 11)
    s = scores(model, data, test, test)
    for name, matrix in (("i2t", s.T), ("t2i", s)):
        recall, precision = report["pr_curves"][name]
        np.testing.assert_allclose(recall, levels)
        naive = np.mean([naive_pr(row.tolist(), q, list(labels), levels)
                         for row, q in zip(matrix, labels)], axis=0)
        np.testing.assert_allclose(precision, naive, atol=1e-6)


def test_siamese_map_ranks_split_texts_against_training_texts(data):
    torch.manual_seed(1)
    model = create_model("siamese", CFG, data).train()
    val, train = data.indices("val"), data.indices("train")
    model.eval()
    with torch.no_grad():
        r = model.head.score_matrix(model.embed(data.texts(val)),
                                    model.embed(data.texts(train))).numpy()
    model.train()
    expected = naive_map(r, data.labels[val], data.labels[train]).mean()
    assert siamese_map(model, data, "val") == {"t2t": pytest.approx(expected, abs=1e-6)}
    assert model.training


def test_past_max_queries_a_seeded_sample_asks_the_whole_database(model, data):
    """The sampled queries are ranked against every test item and every training item, as
    the same queries would be with every query asked."""
    from finelabel.evaluation.queries import evaluation_queries

    test = data.indices("test")
    asked = evaluation_queries(test, 5)
    assert len(asked) == 5 and set(asked) < set(test)
    report = evaluate_model(model, data, top_k=5, max_queries=5)
    assert report["queries"] == {"asked": 5, "of": len(test)}
    db = np.concatenate([data.indices("train"), data.indices("val")])
    labels, asked_labels = data.labels[test], data.labels[asked]
    whole = {"i2t": naive_map(scores(model, data, test, asked).T, asked_labels, labels),
             "t2i": naive_map(scores(model, data, asked, test), asked_labels, labels)}
    top = {"i2t": naive_map(scores(model, data, db, asked).T, asked_labels, data.labels[db], 5),
           "t2i": naive_map(scores(model, data, asked, db), asked_labels, data.labels[db], 5)}
    for protocol, expected in (("all", whole), ("train_at_5", top)):
        for name, ap in expected.items():
            assert report["test"][protocol][name] == pytest.approx(ap.mean(), abs=1e-6)
    everyone = evaluate_model(model, data, top_k=5, max_queries=0)
    assert everyone["queries"] == {"asked": len(test), "of": len(test)}
