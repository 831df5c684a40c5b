import itertools

import numpy as np
import pytest
from scipy import stats

from finelabel.data.shuffle import shuffled


def test_every_order_is_equally_likely_across_buckets():
    values = np.arange(4)
    orders = {order: 0 for order in itertools.permutations(range(4))}
    rng = np.random.default_rng(0)
    for _ in range(12_000):
        orders[tuple(shuffled(values, rng, bucket=2).tolist())] += 1  # 2 buckets on average
    assert stats.chisquare(list(orders.values())).pvalue > 1e-4, orders


def test_a_large_shuffle_keeps_every_value_and_mixes_them():
    values = np.arange(200_000)
    out = shuffled(values, np.random.default_rng(1), bucket=1 << 12)
    np.testing.assert_array_equal(np.sort(out), values)
    assert abs(stats.spearmanr(values, out).statistic) < 0.01  # no trace of the input order
    halves = out[:100_000] < 100_000  # values of each half spread over both halves
    assert abs(halves.mean() - 0.5) < 0.01


def test_seeded_empty_and_too_many_buckets():
    values = np.arange(1000)
    np.testing.assert_array_equal(shuffled(values, np.random.default_rng(3), bucket=16),
                                  shuffled(values, np.random.default_rng(3), bucket=16))
    assert len(shuffled(np.zeros(0, dtype=np.int64), np.random.default_rng(0))) == 0
    with pytest.raises(ValueError, match="buckets"):
        shuffled(np.arange(70_000), np.random.default_rng(0), bucket=1)
