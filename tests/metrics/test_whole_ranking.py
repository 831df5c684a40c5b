"""One whole ranking per query serves AP and the precision-recall curve alike."""

from __future__ import annotations

import numpy as np


def test_one_whole_ranking_gives_what_ap_and_the_curve_give_apart():
    from finelabel.metrics import (
        average_precision_per_query_chunked,
        precision_recall_curve_chunked,
        whole_ranking_chunked,
    )
    from finelabel.metrics.ranking import as_score_rows

    rng = np.random.default_rng(3)
    scores = np.round(rng.random((37, 50)), 1)  # ties, across chunks of 8
    queries = rng.integers(0, 4, 37)
    queries[5] = 9  # a query with no relevant item
    db = rng.integers(0, 4, 50)
    rows = as_score_rows(scores)
    whole = whole_ranking_chunked(rows, 37, queries, db, chunk_size=8)
    np.testing.assert_array_equal(
        whole.ap, average_precision_per_query_chunked(rows, 37, queries, db, chunk_size=8))
    recall, precision, left_out = precision_recall_curve_chunked(rows, 37, queries, db,
                                                                 chunk_size=8)
    np.testing.assert_array_equal(whole.recall, recall)
    np.testing.assert_array_equal(whole.precision, precision)
    assert whole.left_out == left_out == 1 and whole.ap[5] == 0.0
