"""Seed statistics: sample std, standard errors of paired differences, and the verdict's rule."""

from __future__ import annotations

import math

import pytest

from finelabel.evaluation.comparison import paired_difference, summary, verdict


def test_summary_gives_the_sample_std_and_its_standard_error():
    stats = summary([1, 2, 3, 4])
    assert stats["mean"] == pytest.approx(2.5)
    assert stats["std"] == pytest.approx(math.sqrt(5 / 3))  # n - 1 in the denominator
    assert stats["se"] == pytest.approx(math.sqrt(5 / 3) / 2)
    assert stats["values"] == [1.0, 2.0, 3.0, 4.0]
    assert summary([1, 3])["std"] == pytest.approx(math.sqrt(2))  # two seeds already spread


def test_one_value_has_no_spread_and_none_is_refused():
    assert summary([0.3]) == {"mean": 0.3, "std": 0.0, "se": 0.0, "values": [0.3]}
    with pytest.raises(ValueError, match="no values"):
        summary([])


def test_paired_difference_is_taken_seed_by_seed():
    # Large seed-to-seed variation, constant per-seed gain: the pairing removes the variation.
    a, b = [0.40, 0.20, 0.31], [0.39, 0.19, 0.30]
    diff = paired_difference(a, b)
    assert diff["mean"] == pytest.approx(0.01)
    assert diff["se"] == pytest.approx(0.0, abs=1e-12)
    assert diff["n"] == 3
    assert diff["verdict"].startswith("better by 0.0100")
    assert paired_difference(b, a)["verdict"].startswith("worse by 0.0100")


def test_a_difference_counts_only_beyond_two_standard_errors():
    assert verdict(0.5, 0.25, 3) == "not distinguishable (+0.5000 +- 0.2500)"  # exactly 2 se
    assert verdict(0.51, 0.25, 3) == "better by 0.5100 +- 0.2500"
    assert verdict(-0.51, 0.25, 2) == "worse by 0.5100 +- 0.2500"
    assert verdict(0.3, 0.0, 1) == "one seed only: +0.3000, no error to judge by"
    noisy = paired_difference([0.31, 0.30, 0.32], [0.30, 0.30, 0.30])  # 0.01 +- 0.0058
    assert noisy["verdict"].startswith("not distinguishable")


def test_unpaired_values_are_refused():
    with pytest.raises(ValueError, match="same seeds; got 2 and 3"):
        paired_difference([0.1, 0.2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference([], [])
