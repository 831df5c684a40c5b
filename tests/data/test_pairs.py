import logging
import math

import numpy as np
import pytest
from scipy import stats

from finelabel.data.pairs import sample_pairs
from finelabel.errors import DataError


def _labels(n=60, classes=4, seed=0):
    return np.random.default_rng(seed).integers(0, classes, n)


def _pair_set(pairs, unordered=False):
    a, b = pairs["text_idx"], pairs["image_idx"]
    if unordered:
        a, b = np.minimum(a, b), np.maximum(a, b)
    return set(zip(a.tolist(), b.tolist(), strict=True))


@pytest.mark.parametrize("n_pairs", [10, 11, 301])
def test_ratio_and_polarity(n_pairs):
    text_labels, image_labels = _labels(), _labels(45, seed=1)
    pairs = sample_pairs(text_labels, image_labels, n_pairs, include_original=False)
    assert len(pairs["positive"]) == n_pairs
    assert pairs["positive"].sum() == n_pairs - n_pairs // 2
    same = text_labels[pairs["text_idx"]] == image_labels[pairs["image_idx"]]
    np.testing.assert_array_equal(same, pairs["positive"])
    assert pairs["text_idx"].dtype == np.int64 and pairs["image_idx"].dtype == np.int64
    assert pairs["image_idx"].max() < 45
    assert len(_pair_set(pairs)) == n_pairs  # no duplicates while the pool lasts


def test_originals_come_first():
    labels = _labels()
    pairs = sample_pairs(labels, labels, 200)
    originals = {(i, i) for i in range(60)}
    assert originals <= _pair_set(pairs)
    assert (pairs["text_idx"] == pairs["image_idx"]).sum() == 60  # no original drawn twice
    few = sample_pairs(labels, labels, 20)  # 10 positives, all of them originals
    assert (few["text_idx"][few["positive"]] == few["image_idx"][few["positive"]]).all()


def test_originals_need_paired_sets():
    with pytest.raises(ValueError, match="include_original"):
        sample_pairs(_labels(), _labels(45, seed=1), 10)
    labels = _labels()
    with pytest.raises(ValueError, match="include_original"):
        sample_pairs(labels, np.roll(labels, 1), 10)


def test_seeded_and_deterministic():
    labels = _labels()
    first, again = sample_pairs(labels, labels, 101, seed=3), sample_pairs(labels, labels, 101,
                                                                           seed=3)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other = sample_pairs(labels, labels, 101, seed=4)
    assert _pair_set(first) != _pair_set(other)


def test_same_set_never_pairs_an_item_with_itself():
    labels = _labels()
    pairs = sample_pairs(labels, labels, 400, same_set=True, seed=1)
    assert (pairs["text_idx"] != pairs["image_idx"]).all()
    same = labels[pairs["text_idx"]] == labels[pairs["image_idx"]]
    np.testing.assert_array_equal(same, pairs["positive"])
    assert len(_pair_set(pairs, unordered=True)) == 400  # (a, b) and (b, a) are one pair
    assert (pairs["text_idx"] > pairs["image_idx"]).any()  # both orientations occur
    assert (pairs["text_idx"] < pairs["image_idx"]).any()


def test_same_set_needs_one_set():
    with pytest.raises(ValueError, match="same_set"):
        sample_pairs(_labels(), _labels(seed=1), 10, same_set=True)


def test_exhausted_pool_uses_every_pair_then_repeats(caplog):
    labels = np.array([0, 0, 1, 1, 1])  # unordered positives: 1 + 3 = 4, negatives: 6
    with caplog.at_level(logging.WARNING, logger="finelabel.data.pairs"):
        pairs = sample_pairs(labels, labels, 20, same_set=True)
    assert "positive" in caplog.text and "negative" in caplog.text
    assert pairs["positive"].sum() == 10
    assert len(_pair_set(pairs, unordered=True)) == 10  # all 4 + 6 distinct pairs appear
    assert (pairs["text_idx"] != pairs["image_idx"]).all()


def test_an_impossible_polarity_is_an_error():
    with pytest.raises(DataError, match="negative"):
        sample_pairs(np.zeros(5, dtype=int), np.zeros(5, dtype=int), 4)
    with pytest.raises(DataError, match="positive"):
        sample_pairs(np.arange(5), np.arange(5), 4, same_set=True)
    with pytest.raises(TypeError):
        sample_pairs(np.arange(5), np.arange(5), 4.0)
    empty = sample_pairs(np.arange(5), np.arange(5), 0)
    assert all(len(values) == 0 for values in empty.values())


def test_large_request_runs():
    labels = np.random.default_rng(0).integers(0, 10, 2000)
    pairs = sample_pairs(labels, labels, 409_600, seed=0)
    assert pairs["positive"].sum() == 204_800
    assert len(_pair_set(pairs)) == 409_600
    same = labels[pairs["text_idx"]] == labels[pairs["image_idx"]]
    np.testing.assert_array_equal(same, pairs["positive"])


@pytest.mark.parametrize("n_pairs", [4, 20])  # 2 of 13 positives (top-ups), 10 of 13 (dense)
def test_every_set_of_positives_is_equally_likely(n_pairs):
    labels = np.array([0, 0, 1, 1, 1])  # cross-modal positives without originals: 4 + 9 = 13
    counts: dict[tuple, int] = {}
    draws = 4_000
    for seed in range(draws):
        pairs = sample_pairs(labels, labels, n_pairs, seed=seed, include_original=False)
        chosen = tuple(sorted(_pair_set({k: v[pairs["positive"]] for k, v in pairs.items()})))
        counts[chosen] = counts.get(chosen, 0) + 1
    subsets = math.comb(13, n_pairs // 2)
    assert len(counts) == subsets  # every subset occurs...
    chi2 = stats.chisquare(list(counts.values()))  # ...about equally often
    assert chi2.pvalue > 1e-4, chi2
