"""Steady-state epoch time leaves out the first epoch's warm-up."""

from __future__ import annotations

import pytest

from finelabel.benchmark.training import steady_epoch_seconds, steady_epochs


def test_steady_time_is_the_median_after_the_first_epoch():
    history = [{"epoch": 1, "train_pairs": 100.0, "pairs_per_s": 10.0},  # 10 s: warm-up
               {"epoch": 2, "train_pairs": 100.0, "pairs_per_s": 50.0},  # 2 s
               {"epoch": 3, "train_pairs": 100.0, "pairs_per_s": 25.0},  # 4 s
               {"epoch": 4, "train_pairs": 100.0, "pairs_per_s": 100.0}]  # 1 s
    assert steady_epoch_seconds(history) == pytest.approx(2.0)
    assert steady_epochs(history) == pytest.approx([2.0, 4.0, 1.0])  # pooled over rounds
    assert steady_epoch_seconds(history[:1]) == pytest.approx(10.0)  # one epoch: all there is
    with pytest.raises(ValueError, match="no epoch reported"):
        steady_epoch_seconds([{"epoch": 1}])
