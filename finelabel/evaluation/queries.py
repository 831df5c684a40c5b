"""Which test items are asked as queries: all of them, or a seeded sample on large sets.

Both protocols rank every query against a whole database, so their cost grows with
queries x database: 40,960 test items took 45 minutes here. Past ``eval.max_queries`` the MAP
is estimated from a seeded uniform sample of queries (the database stays whole), as
large-scale retrieval benchmarks do; models and baselines get the same sample, so their
difference is paired. English Wikipedia's 693 test items are all asked at the default.
"""

from __future__ import annotations

import numpy as np

#: Seed of the query sample: the same items for every run of a prepared set.
QUERY_SEED = 20190612


def evaluation_queries(test_ids: np.ndarray, max_queries: int) -> np.ndarray:
    """``test_ids``, or a sorted seeded sample of ``max_queries`` of them (0: every one)."""
    test_ids = np.asarray(test_ids)
    if max_queries <= 0 or len(test_ids) <= max_queries:
        return test_ids
    picked = np.random.default_rng(QUERY_SEED).choice(len(test_ids), max_queries, replace=False)
    return test_ids[np.sort(picked)]
