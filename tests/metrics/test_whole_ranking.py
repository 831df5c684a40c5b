"""One whole ranking per query serves AP and the precision-recall curve alike."""

from __future__ import annotations

import numpy as np

from finelabel.metrics import whole_ranking_chunked
from finelabel.metrics.ranking import as_score_rows
from tests.metrics.test_metrics import naive_ap, naive_pr


def test_one_whole_ranking_gives_each_query_s_ap_and_the_mean_curve():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((37, 50)), 1)  # ties, across chunks of 8
    queries = rng.integers(0, 4, 37)
    queries[5] = 9  # a query with no relevant item: AP 0, left out of the curve
    db = rng.integers(0, 4, 50)
    whole = whole_ranking_chunked(as_score_rows(scores), 37, queries, db, chunk_size=8)
    np.testing.assert_allclose(whole.ap, [naive_ap(row.tolist(), q, list(db))
                                          for row, q in zip(scores, queries)], atol=1e-12)
    levels = np.linspace(0, 1, 11)
    naive = np.mean([naive_pr(row.tolist(), q, list(db), levels)
                     for row, q in zip(scores, queries) if q != 9], axis=0)
    np.testing.assert_allclose(whole.recall, levels)
    np.testing.assert_allclose(whole.precision, naive, atol=1e-12)
    assert whole.left_out == 1 and whole.ap[5] == 0.0
