"""Siamese similarities of any pair from a label model: one net, or out-of-fold nets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finelabel.labels import fit_hardness_bins
from finelabel.models import ScoreHead
from finelabel.train.hardness import (
    InBatchHardness,
    SiameseSimilarity,
    load_similarity,
    save_label_model,
)


def _nets(k: int, n: int = 24, d: int = 6, seed: int = 0):
    torch.manual_seed(seed)
    heads = [ScoreHead(d, dropout=0.0).eval() for _ in range(k)]
    embeddings = torch.randn(k, n, d)
    folds = np.random.default_rng(seed).integers(0, k, n)
    return SiameseSimilarity(embeddings, heads, folds)


def _naive(sim: SiameseSimilarity, a: int, b: int) -> float:
    """r(T_a, T_b): the mean of the scores of the nets that did not train on a and on b."""
    with torch.no_grad():
        def score(net: int) -> float:
            return float(sim.heads[net](sim.embeddings[net, a:a + 1],
                                        sim.embeddings[net, b:b + 1])[0])
        return 0.5 * (score(int(sim.folds[a])) + score(int(sim.folds[b])))


@pytest.mark.parametrize("k", [1, 3])
def test_pair_and_matrix_scores_are_the_held_out_nets_mean(k):
    sim = _nets(k)
    rng = np.random.default_rng(1)
    left, right = rng.integers(0, 24, 40), rng.integers(0, 24, 40)
    expected = [_naive(sim, a, b) for a, b in zip(left, right)]
    np.testing.assert_allclose(sim.pairs(left, right), expected, rtol=1e-5, atol=1e-6)
    rows, cols = np.array([0, 5, 9, 23]), np.array([1, 5, 7])
    matrix = sim.matrix(rows, cols)
    assert matrix.shape == (4, 3)
    for i, a in enumerate(rows):
        for j, b in enumerate(cols):
            assert matrix[i, j] == pytest.approx(_naive(sim, a, b), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kernel", ["numpy blocks", "sampled product", "sampled slices"])
def test_pairs_across_scoring_blocks_score_as_one_by_one(kernel, monkeypatch):
    """More pairs than one block holds, unsorted and repeated: each r is the naive one, in its
    own row (a block's rows, and the sampled product's sorted rows, land where they came from;
    also when the product takes the items 5 at a time)."""
    from finelabel.train import sampled_scores
    from finelabel.train.pair_scores import ROWS
    from finelabel.train.sampled_scores import sampled_pair_scores

    if kernel == "sampled slices":
        monkeypatch.setattr(sampled_scores, "ITEMS_PER_PRODUCT", 5)

    sim = _nets(3)
    rng = np.random.default_rng(2)
    left, right = rng.integers(0, 24, 2 * ROWS + 17), rng.integers(0, 24, 2 * ROWS + 17)
    naive = {(a, b): _naive(sim, a, b) for a in range(24) for b in range(24)}
    expected = [naive[a, b] for a, b in zip(left, right)]
    scores = sim.pair_scores()
    got = scores(left, right) if kernel == "numpy blocks" else sampled_pair_scores(
        scores, left, right)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_both_kernels_agree_on_wide_embeddings_and_no_pairs():
    """At the siamese nets' width (1024) the two kernels round alike to float32 labels'
    precision; an empty set of pairs scores to an empty array."""
    from finelabel.train.sampled_scores import sampled_pair_scores

    torch.manual_seed(3)
    heads = [ScoreHead(1024, dropout=0.0).eval() for _ in range(2)]
    sim = SiameseSimilarity(torch.randn(2, 500, 1024), heads,
                            np.random.default_rng(3).integers(0, 2, 500))
    rng = np.random.default_rng(4)
    left, right = rng.integers(0, 500, 5000), rng.integers(0, 500, 5000)
    scores = sim.pair_scores()
    np.testing.assert_allclose(sampled_pair_scores(scores, left, right), scores(left, right),
                               rtol=1e-5, atol=1e-5)
    empty = np.array([], dtype=np.int64)
    assert sampled_pair_scores(scores, empty, empty).shape == (0,)


def test_one_net_scores_are_its_head_on_the_embeddings():
    sim = _nets(1)
    with torch.no_grad():
        direct = sim.heads[0](sim.embeddings[0, [2, 3]], sim.embeddings[0, [7, 2]]).numpy()
    np.testing.assert_allclose(sim.pairs(np.array([2, 3]), np.array([7, 2])), direct, rtol=1e-6)


def test_a_pair_within_one_fold_is_scored_by_the_net_that_saw_neither():
    sim = _nets(3)
    a, b = np.flatnonzero(sim.folds == 1)[:2]
    with torch.no_grad():
        only = float(sim.heads[1](sim.embeddings[1, [a]], sim.embeddings[1, [b]])[0])
    assert sim.pairs(np.array([a]), np.array([b]))[0] == pytest.approx(only, rel=1e-6)
    sim.embeddings[0] += 100.0  # net 0 did not hold out a or b: it must play no part
    sim.embeddings[2] += 100.0
    assert sim.pairs(np.array([a]), np.array([b]))[0] == pytest.approx(only, rel=1e-6)


def test_the_label_model_round_trips_with_its_folds(tmp_path):
    sim = _nets(3)
    left, right = np.arange(24), np.random.default_rng(2).permutation(24)
    r = sim.pairs(left, right)
    positive = left % 2 == right % 2
    bins = fit_hardness_bins(r, positive, 4)
    path = save_label_model(tmp_path / "lm", sim.embeddings.numpy(), sim.heads, sim.folds, bins)
    again = load_similarity(path)
    assert again.nets == 3 and np.array_equal(again.folds, sim.folds)
    np.testing.assert_allclose(again.pairs(left, right), r, rtol=1e-6)
    hardness = InBatchHardness.load(path)
    ids = np.array([0, 3, 8])
    pos = (ids[:, None] % 2) == (ids[None, :] % 2)
    expected = bins.labels(sim.matrix(ids, ids).reshape(-1), pos.reshape(-1)).reshape(3, 3)
    np.testing.assert_array_equal(hardness.matrix(ids, ids, pos), expected)


def test_nets_and_heads_must_agree():
    sim = _nets(2)
    with pytest.raises(ValueError, match="k heads"):
        SiameseSimilarity(sim.embeddings, sim.heads[:1], sim.folds)
