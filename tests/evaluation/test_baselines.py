"""Classical baselines: features fitted on training items only, SCM and CCA that find the
categories when both modalities carry them, a random floor, settings chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

from finelabel.data.prepared import PreparedData
from finelabel.evaluation import baselines
from finelabel.evaluation.baselines import (
    centred_cosine,
    features,
    random_ranking,
    run_baselines,
)
from tests.evaluation.in_memory import VOCAB, separable


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return separable({"train": 20, "val": 6, "test": 6})


def test_centred_cosine_centres_each_row_then_takes_the_cosine():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    a0, b0 = a.copy(), b.copy()
    want = np.array([[np.dot(x - x.mean(), y - y.mean())
                      / np.linalg.norm(x - x.mean()) / np.linalg.norm(y - y.mean())
                      for y in b] for x in a])
    np.testing.assert_allclose(centred_cosine(a, b), want, rtol=1e-9)
    np.testing.assert_array_equal(a, a0)  # the inputs are left alone
    np.testing.assert_array_equal(b, b0)


def test_features_are_fitted_on_training_items_only(data):
    f = features(data)
    train, test = data.indices("train"), data.indices("test")
    image = data.image_features.astype(np.float64)
    mean, std = image[train].mean(0), image[train].std(0)
    np.testing.assert_allclose(f.image[test], (image[test] - mean) / (std + 1e-6), rtol=1e-9)
    np.testing.assert_allclose(f.image[train].mean(0), 0, atol=1e-9)
    # TF-IDF: log(1 + count) times the training texts' idf, rows of unit length.
    counts = data.text_signals.toarray().astype(np.float64)
    df = (counts[train] > 0).sum(0)
    idf = np.log((1 + len(train)) / (1 + df)) + 1
    want = np.log1p(counts) * idf.astype(np.float32)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    np.testing.assert_allclose(f.text.toarray(), want, rtol=1e-6)
    assert set(f.splits) == {"train", "val", "test", "queries"}
    np.testing.assert_array_equal(f.splits["test"], test)
    np.testing.assert_array_equal(f.splits["queries"], test)  # every test item is asked


def test_baselines_find_the_categories_and_random_does_not(data):
    reports = run_baselines(data, top_k=10, seed=0)
    assert set(reports) == {"cca", "scm_dot", "scm_cosine", "random"}
    for name in ("cca", "scm_dot", "scm_cosine"):
        for protocol in ("all", "train_at_10"):
            assert reports[name][protocol]["avg"] > 0.9, (name, protocol, reports[name])
    chance = reports["random"]["all"]["avg"]
    assert 0.2 < chance < 0.6  # three balanced categories: about 1/3
    assert reports["scm_dot"]["settings"]["C_text"] in baselines.SCM_C
    assert reports["cca"]["settings"]["dims"] in baselines.CCA_DIMS  # image dim 16 > 9
    assert reports["cca"]["settings"]["svd_dims"] in (10, VOCAB - 1)  # 100 capped at |V| - 1
    assert set(reports["random"]) == {"all", "train_at_10", "settings"}
    again = run_baselines(data, top_k=10, seed=3)
    assert again["random"] == random_ranking(features(data), top_k=10, seed=3)
    assert again["random"] != reports["random"]


def test_scm_keeps_the_pair_of_c_with_the_best_validation_map():
    """Noisy enough that the regularisation matters: the chosen (C_text, C_image) is the
    first best by validation MAP, and the test figures are those of that pair."""
    f = features(separable({"train": 12, "val": 6, "test": 6}, seed=2, topic_words=1,
                           image_noise=4.0))
    train = f.splits["train"]
    text = {c: baselines._posteriors(f.text, f.labels, train, c, 0) for c in baselines.SCM_C}
    image = {c: baselines._posteriors(f.image, f.labels, train, c, 0) for c in baselines.SCM_C}
    val = {(ct, ci): baselines._val_map(text[ct], image[ci], f, baselines.dot)
           for ct in baselines.SCM_C for ci in baselines.SCM_C}
    assert len(set(val.values())) > 1  # the choice is not a tie
    best = max(val, key=val.get)
    report = baselines.scm(f, baselines.dot, top_k=5)
    assert (report["settings"]["C_text"], report["settings"]["C_image"]) == best
    expected = baselines._report(text[best[0]], image[best[1]], f, 5, baselines.dot)
    assert report["all"] == expected["all"] and report["train_at_5"] == expected["train_at_5"]


def test_settings_are_chosen_without_looking_at_the_test_split(data):
    """Scrambling the test items' categories changes the test MAP, never the chosen settings."""
    rng = np.random.default_rng(5)
    labels = data.labels.copy()
    test = data.indices("test")
    labels[test] = rng.permutation(labels[test])  # test items' categories shuffled
    scrambled = PreparedData(data.root, data.manifest, labels, data.splits, data.text_signals,
                             data.image_features, data.edge_index, data.num_nodes)
    clean, leaked = features(data), features(scrambled)
    for run in (lambda f: baselines.scm(f, baselines.dot, top_k=10),
                lambda f: baselines.scm(f, centred_cosine, top_k=10),
                lambda f: baselines.cca(f, top_k=10)):
        a, b = run(clean), run(leaked)
        assert a["settings"] == b["settings"]
        assert b["all"]["avg"] < a["all"]["avg"] - 0.2


def test_random_ranking_is_seeded(data):
    f = features(data)
    a = random_ranking(f, top_k=10, seed=3)
    assert a == random_ranking(f, top_k=10, seed=3)
    assert a != random_ranking(f, top_k=10, seed=4)


def test_past_max_queries_baselines_ask_the_queries_models_are_asked(data):
    """The same seeded sample as the model evaluation, ranked against the whole databases."""
    from finelabel.evaluation.queries import evaluation_queries
    from finelabel.metrics import CrossModalScores, retrieval_report

    test = data.indices("test")
    f = features(data, max_queries=5)
    asked = evaluation_queries(test, 5)
    np.testing.assert_array_equal(f.splits["queries"], asked)
    rng = np.random.default_rng(3)  # random_ranking's embeddings, drawn as it draws them
    text, image = rng.random((len(f.labels), 32)), rng.random((len(f.labels), 32))
    db = np.concatenate([f.splits["train"], f.splits["val"]])

    def scores(base):
        return CrossModalScores(image[asked] @ text[base].T, text[asked] @ image[base].T,
                                f.labels[asked], f.labels[base])

    expected = retrieval_report(scores(test), scores(db), top_k=10)
    got = run_baselines(data, top_k=10, seed=3, max_queries=5)["random"]
    assert got["all"] == pytest.approx(expected["all"])
    assert got["train_at_10"] == pytest.approx(expected["train_at_10"])
