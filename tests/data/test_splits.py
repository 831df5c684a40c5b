import numpy as np
import pytest

from finelabel.data.splits import carve_validation


def test_a_category_of_two_gives_one_and_keeps_one():
    labels = np.repeat(np.arange(3), [2, 1, 20])
    mask = carve_validation(labels, 0.1, seed=0)
    assert [int(mask[labels == c].sum()) for c in range(3)] == [1, 0, 2]


def test_validation_draws_without_replacement():
    labels = np.zeros(40, dtype=int)
    for seed in range(5):  # 18 of 40 drawn with replacement would repeat some almost surely
        assert carve_validation(labels, 0.45, seed=seed).sum() == 18


def test_validation_is_stratified_and_seeded():
    labels = np.repeat(np.arange(5), [40, 30, 20, 10, 3])
    mask = carve_validation(labels, 0.1, seed=3)
    per_class = [int(mask[labels == c].sum()) for c in range(5)]
    assert per_class == [4, 3, 2, 1, 1]
    assert np.array_equal(mask, carve_validation(labels, 0.1, seed=3))
    assert not np.array_equal(mask, carve_validation(labels, 0.1, seed=4))


def test_every_category_keeps_training_items():
    labels = np.array([0, 0, 1, 2, 2, 2])
    mask = carve_validation(labels, 0.45, seed=0)
    for c in range(3):
        assert (~mask[labels == c]).sum() >= 1
    assert not mask[labels == 1].any()  # a singleton category stays in training


def test_folds_are_stratified_balanced_and_seeded():
    from finelabel.data.splits import assign_folds

    labels = np.repeat(np.arange(3), [17, 9, 4])
    folds = assign_folds(labels, 4, seed=1)
    assert set(folds.tolist()) == {0, 1, 2, 3}
    sizes = np.bincount(folds, minlength=4)
    assert sizes.max() - sizes.min() <= 1
    for c in range(3):  # each category spread over the folds as evenly as it can be
        per_fold = np.bincount(folds[labels == c], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1
    assert np.array_equal(folds, assign_folds(labels, 4, seed=1))
    assert not np.array_equal(folds, assign_folds(labels, 4, seed=2))
    assert not assign_folds(labels, 1).any()
    # Each category continues where the last stopped, so the leftovers fall on different folds.
    sizes = np.bincount(assign_folds(np.repeat(np.arange(3), 5), 4), minlength=4)
    assert sorted(sizes.tolist()) == [3, 4, 4, 4]
    with pytest.raises(ValueError, match="folds must be >= 1, got 0"):
        assign_folds(labels, 0)
