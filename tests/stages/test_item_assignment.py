"""The prepare stage's record -> (item, split) assignment, held as arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from finelabel.stages.item_assignment import ItemAssignment

KEPT = np.array([2, 3, 7, 8, 11])  # records 0, 1, 4-6, 9, 10 and 12 on were skipped
SPLITS = ["train", "val", "test", "train", "test"]


def test_kept_records_get_their_item_and_split_and_skipped_ones_are_masked_out():
    assignment = ItemAssignment.from_splits(KEPT, SPLITS)
    kept, items, splits = assignment.lookup(np.array([11, 0, 3, 12, 2, 9, 7]))
    assert kept.tolist() == [True, False, True, False, True, False, True]
    assert items.tolist() == [4, 1, 0, 2]  # item i is the i-th kept record
    assert splits.tolist() == ["test", "val", "train", "test"]


def test_an_empty_lookup_and_an_empty_assignment():
    assignment = ItemAssignment.from_splits(KEPT, SPLITS)
    kept, items, splits = assignment.lookup(np.array([], dtype=np.int64))
    assert (len(kept), len(items), len(splits)) == (0, 0, 0)
    kept, items, _ = ItemAssignment.from_splits(np.array([], dtype=np.int64), []).lookup([1, 2])
    assert not kept.any() and len(items) == 0


def test_splits_and_counts():
    assignment = ItemAssignment.from_splits(KEPT, SPLITS)
    assert assignment.rids_of("train").tolist() == [2, 8]
    assert assignment.rids_of("test").tolist() == [7, 11]
    assert assignment.counts() == {"train": 2, "val": 1, "test": 2}
    assert list(assignment.counts()) == ["train", "val", "test"]  # the manifest's order
    assert len(assignment) == 5


def test_it_travels_as_arrays():
    """What Ray ships to each item task: no Python object per record."""
    assignment = ItemAssignment.from_splits(np.arange(100_000), ["train"] * 100_000)
    blob = pickle.dumps(assignment, protocol=5)
    assert len(blob) < 100_000 * 9 + 1_000  # 8 bytes a record id, 1 a split code
    back = pickle.loads(blob)
    assert np.array_equal(back.rids, assignment.rids)
    assert np.array_equal(back.codes, assignment.codes)


@pytest.mark.parametrize(("rids", "splits", "message"), [
    ([3, 2], ["train", "test"], "strictly increasing"),
    ([2, 2], ["train", "test"], "strictly increasing"),
    ([1, 2], ["train", "dev"], r"unknown split\(s\) \['dev'\]"),
])
def test_malformed_input_is_refused(rids, splits, message):
    with pytest.raises(ValueError, match=message):
        ItemAssignment.from_splits(np.array(rids), splits)
