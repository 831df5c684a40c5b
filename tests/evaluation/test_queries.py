"""Which test items are asked: all of them up to ``eval.max_queries``, else a seeded sample."""

from __future__ import annotations

import numpy as np

from finelabel.evaluation.queries import evaluation_queries


def test_every_test_item_is_asked_up_to_the_cap_and_with_no_cap():
    test = np.arange(100, 700, 3)
    np.testing.assert_array_equal(evaluation_queries(test, len(test)), test)
    np.testing.assert_array_equal(evaluation_queries(test, 0), test)


def test_past_the_cap_the_sample_is_sorted_distinct_and_the_same_every_time():
    test = np.arange(100, 70_000, 7)
    asked = evaluation_queries(test, 500)
    assert len(asked) == 500 and len(np.unique(asked)) == 500
    assert np.all(np.diff(asked) > 0) and np.isin(asked, test).all()
    np.testing.assert_array_equal(asked, evaluation_queries(test.copy(), 500))
    # spread over the whole split, not its head
    assert asked.min() < test[len(test) // 10] and asked.max() > test[-len(test) // 10]
