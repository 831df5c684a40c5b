"""Steady-state throughput leaves out the first epoch's warm-up."""

from __future__ import annotations

import pytest

from finelabel.benchmark.training import steady_pairs_per_s


def test_steady_rate_is_the_median_after_the_first_epoch():
    history = [{"epoch": 1, "pairs_per_s": 10.0}, {"epoch": 2, "pairs_per_s": 100.0},
               {"epoch": 3, "pairs_per_s": 90.0}, {"epoch": 4, "pairs_per_s": 300.0}]
    assert steady_pairs_per_s(history) == 100.0
    assert steady_pairs_per_s(history[:1]) == 10.0  # one epoch: all there is
    with pytest.raises(ValueError, match="no epoch reported"):
        steady_pairs_per_s([{"epoch": 1}])
