"""The packed-key sort ranks exactly as torch's stable descending sort does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finelabel.metrics import whole_ranking_chunked
from finelabel.metrics.ranking import as_score_rows, descending_order
from tests.metrics.test_metrics import naive_ap


def _reference(scores: torch.Tensor) -> torch.Tensor:
    return scores.sort(dim=1, descending=True, stable=True).indices


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_ties_signed_zeros_and_infinities_rank_as_a_stable_sort(dtype):
    rng = np.random.default_rng(0)
    scores = torch.from_numpy(rng.integers(-6, 6, (9, 500)).astype(np.float32) / 4).to(dtype)
    scores[0, :7] = -0.0  # equal to 0.0: database order decides, not the sign bit
    scores[1, :4], scores[1, 4:9] = torch.inf, -torch.inf
    scores[2] = 1.5  # one long tie
    scores[3, ::3] = torch.finfo(dtype).max
    scores[4, ::5] = torch.finfo(dtype).tiny  # smallest normal, just above 0.0
    order = descending_order(scores)
    assert order.dtype == torch.int64
    assert torch.equal(order, _reference(scores))


def test_distinct_floats_of_every_magnitude_keep_their_order():
    rng = np.random.default_rng(1)
    scores = torch.from_numpy((rng.standard_normal((4, 3000))
                               * 10.0 ** rng.integers(-30, 30, (4, 3000))).astype(np.float32))
    assert torch.equal(descending_order(scores), _reference(scores))


def test_float32_scores_give_the_naive_ap():
    rng = np.random.default_rng(3)
    scores = np.round(rng.random((20, 64)), 1).astype(np.float32)  # ties
    queries, db = rng.integers(0, 4, 20), rng.integers(0, 4, 64)
    whole = whole_ranking_chunked(as_score_rows(scores), 20, queries, db, chunk_size=8)
    np.testing.assert_allclose(whole.ap, [naive_ap(row.tolist(), q, list(db))
                                          for row, q in zip(scores, queries)], atol=1e-12)
