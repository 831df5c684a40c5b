"""Growth exponents from stage costs, and the synthetic sizes the benchmark asks for."""

from __future__ import annotations

import pytest

from finelabel.benchmark.growth import (
    PAIRS_PER_ITEM,
    StageCost,
    growth_exponents,
    median_costs,
    synthetic_size,
)


def cost(stage: str, items: int, seconds: float) -> StageCost:
    return StageCost(stage, items, PAIRS_PER_ITEM * items, seconds, 100.0, 50.0, 80.0)


def test_exponent_is_the_log_log_slope_between_the_two_largest_sizes():
    costs = [cost("label", 1_000, 50.0),  # start-up dominated: left out of the slope
             cost("label", 10_000, 2.0), cost("label", 100_000, 20.0),
             cost("prepare", 10_000, 1.0), cost("prepare", 100_000, 10 ** 1.5),
             cost("evaluate", 10_000, 3.0)]  # one size only: no exponent
    exponents = growth_exponents(costs)
    assert exponents == {"label": pytest.approx(1.0), "prepare": pytest.approx(1.5)}


@pytest.mark.parametrize("items", [400, 2_048, 20_480, 204_800])
def test_synthetic_sizes_hold_the_items_asked_for(items):
    size = synthetic_size(items)
    total = size.categories * (size.train_per_category + size.test_per_category)
    assert abs(total - items) <= size.categories  # whole items per category
    assert size.train_per_category == pytest.approx(4 * size.test_per_category, rel=0.1)


def test_each_stage_keeps_its_median_run():
    runs = [[cost("prepare", 100, 3.0), cost("label", 100, 9.0)],
            [cost("prepare", 100, 1.0), cost("label", 100, 2.0)],
            [cost("prepare", 100, 2.0), cost("label", 100, 1.0)]]
    medians = median_costs(runs)
    assert [(c.stage, c.seconds, c.repeats) for c in medians] == [("prepare", 2.0, 3),
                                                                   ("label", 2.0, 3)]
    # of two, the faster: a slow small size would flatter the exponent
    assert [c.seconds for c in median_costs(runs[:2])] == [1.0, 2.0]
