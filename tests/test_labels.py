import numpy as np
import pytest
import torch

from finelabel.labels import fit_hardness_bins


def hardness_labels(r, positive, bins: int = 9) -> np.ndarray:
    """Labels as the label stage makes them: bins fitted on all pairs, then applied to them."""
    return fit_hardness_bins(r, positive, bins).labels(r, positive)


def hardness_bin_edges(r, positive, bins: int = 9) -> dict[str, np.ndarray]:
    fitted = fit_hardness_bins(r, positive, bins)
    return {"positive": fitted.positive.edges, "negative": fitted.negative.edges}


def _random_pairs(n=501, seed=0):
    rng = np.random.default_rng(seed)
    r = np.round(rng.normal(size=n), 2)  # rounding makes ties
    positive = rng.random(n) < 0.4
    return r, positive


def test_hand_example():
    r = np.array([0.1, 0.2, 0.3, 0.4, 0.0, 0.5, 0.6, 0.9, 1.0])
    positive = np.array([True] * 4 + [False] * 5)
    # positives: edges [0.1, 0.25, 0.4], bins {0.1, 0.2} {0.3, 0.4}, F+ = [0.5, 1] -> 1 - F+.
    # negatives: edges [0, 0.6, 1], bins {0, 0.5} {0.6, 0.9, 1}, F- = [0.4, 1].
    labels = hardness_labels(r, positive, bins=2)
    expected = [0.5, 0.5, 0.0, 0.0, 0.4, 0.4, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(labels, expected)
    assert labels.dtype == np.float32
    edges = hardness_bin_edges(r, positive, bins=2)
    np.testing.assert_allclose(edges["positive"], [0.1, 0.25, 0.4])
    np.testing.assert_allclose(edges["negative"], [0.0, 0.6, 1.0])


def test_monotone_range_and_distinct_count():
    r, positive = _random_pairs()
    labels = hardness_labels(r, positive, bins=9)
    assert ((labels >= 0) & (labels <= 1)).all()
    for side, direction in ((positive, -1), (~positive, 1)):
        order = np.argsort(r[side], kind="stable")
        steps = np.diff(labels[side][order])
        assert (direction * steps >= 0).all()
        assert len(np.unique(labels[side])) <= 9
    assert labels[positive].max() > 0.5 and labels[~positive].max() == 1.0
    assert labels[positive].min() == 0.0


def test_equal_similarity_gets_equal_label():
    r, positive = _random_pairs()
    labels = hardness_labels(r, positive)
    for side in (positive, ~positive):
        for value in np.unique(r[side]):
            assert len(np.unique(labels[side][r[side] == value])) == 1


def test_constant_input():
    r = np.full(6, 0.3)
    positive = np.array([True, False] * 3)
    labels = hardness_labels(r, positive)
    np.testing.assert_array_equal(labels, [0.0, 1.0] * 3)


def test_one_bin_labels_every_positive_easy_and_every_negative_hard():
    r, positive = _random_pairs()
    labels = hardness_labels(r, positive, bins=1)
    assert (labels[positive] == 0.0).all() and (labels[~positive] == 1.0).all()


def test_bins_must_be_positive():
    with pytest.raises(ValueError, match="bins"):
        hardness_labels(np.zeros(2), np.ones(2, dtype=bool), bins=0)


def test_empty_polarity():
    labels = hardness_labels(np.array([0.1, 0.5, 0.9]), np.ones(3, dtype=bool), bins=3)
    np.testing.assert_allclose(labels, [2 / 3, 1 / 3, 0.0])
    assert hardness_bin_edges(np.array([0.1]), np.array([True]))["negative"].size == 0
    assert hardness_labels(np.zeros(0), np.zeros(0, dtype=bool)).size == 0


def test_torch_input_matches_numpy():
    r, positive = _random_pairs()
    from_torch = hardness_labels(torch.tensor(r, dtype=torch.float32), torch.tensor(positive))
    from_numpy = hardness_labels(r.astype(np.float32), positive)
    np.testing.assert_array_equal(from_torch, from_numpy)


def test_fitted_bins_label_batch_by_batch():
    r, positive = _random_pairs()
    bins = fit_hardness_bins(r, positive)
    batched = np.concatenate([bins.labels(r[i:i + 100], positive[i:i + 100])
                              for i in range(0, len(r), 100)])
    np.testing.assert_array_equal(batched, hardness_labels(r, positive))
    record = bins.to_dict()
    assert len(record["positive_edges"]) == 10 and len(record["negative_cdf"]) == 9
    assert record["negative_cdf"][-1] == pytest.approx(1.0)


def test_bad_inputs_are_errors():
    with pytest.raises(ValueError, match="one value per pair"):
        hardness_labels(np.zeros(3), np.zeros(2, dtype=bool))
    with pytest.raises(ValueError, match="has 1 NaN values; check the siamese checkpoint"):
        hardness_labels(np.array([np.nan, 1.0]), np.array([True, False]))
    only_positives = fit_hardness_bins(np.array([0.5]), np.array([True]))
    with pytest.raises(ValueError, match="^no pairs of this polarity were seen when fitting"):
        only_positives.labels(np.array([0.5]), np.array([False]))


def test_shuffled_labels_keep_each_polarity_and_lose_the_pairing():
    from finelabel.labels import shuffle_within_polarity

    rng = np.random.default_rng(0)
    positive = rng.random(2000) < 0.5
    labels = np.where(positive, rng.random(2000), rng.random(2000) + 2)  # sides apart
    shuffled = shuffle_within_polarity(labels, positive, np.random.default_rng(1))
    for side in (positive, ~positive):
        np.testing.assert_array_equal(np.sort(shuffled[side]), np.sort(labels[side]))
    assert (shuffled[positive] < 2).all() and (shuffled[~positive] >= 2).all()
    for side in (positive, ~positive):  # both polarities lose what their labels said
        assert abs(np.corrcoef(shuffled[side], labels[side])[0, 1]) < 0.1
    # Polarities given as 0/1 integers (a Parquet column) split the same way.
    again = shuffle_within_polarity(labels, positive.astype(np.int8), np.random.default_rng(1))
    np.testing.assert_array_equal(again, shuffled)


def test_bins_round_trip_through_their_dict():
    from finelabel.labels import HardnessBins

    rng = np.random.default_rng(0)
    r, positive = rng.normal(size=500), rng.random(500) < 0.5
    bins = fit_hardness_bins(r, positive, 9)
    again = HardnessBins.from_dict(bins.to_dict())
    np.testing.assert_array_equal(again.labels(r, positive), bins.labels(r, positive))


def test_labels_take_tensors_that_still_carry_gradients():
    """The siamese net's r arrives as a torch tensor, possibly still attached to its graph."""
    import torch

    rng = np.random.default_rng(0)
    r, positive = rng.normal(size=200), rng.random(200) < 0.5
    bins = fit_hardness_bins(r, positive, 5)
    attached = torch.tensor(r, requires_grad=True) * 1.0
    np.testing.assert_array_equal(bins.labels(attached, torch.from_numpy(positive)),
                                  bins.labels(r, positive))
    np.testing.assert_array_equal(bins.labels(r.reshape(20, 10), positive.reshape(20, 10)),
                                  bins.labels(r, positive))  # one label per pair, flattened


def test_with_hardness_adds_the_labels_and_keeps_the_batch():
    from finelabel.labels import with_hardness

    rng = np.random.default_rng(2)
    batch = {"similarity": rng.normal(size=50), "positive": rng.random(50) < 0.5,
             "text_idx": np.arange(50)}
    bins = fit_hardness_bins(batch["similarity"], batch["positive"], 4)
    out = with_hardness(batch, bins=bins)
    assert set(out) == {"similarity", "positive", "text_idx", "hardness"}
    np.testing.assert_array_equal(out["text_idx"], batch["text_idx"])
    np.testing.assert_array_equal(out["hardness"],
                                  bins.labels(batch["similarity"], batch["positive"]))
    assert "hardness" not in batch  # the input batch is left as it was
