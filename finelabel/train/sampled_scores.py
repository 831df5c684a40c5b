"""Siamese similarities of many row-aligned pairs in one sampled matrix product (torch).

r(T_a, T_b) = w . (u_a * u_b) + b is the (a, b) entry of (U * w) U^T: scoring N pairs is that
product sampled at N places (SDDMM), which ``torch.sparse.sampled_addmm`` computes straight from
the embedding rows. The numpy kernel of :class:`~finelabel.train.pair_scores.PairScores` gathers
both rows of every pair into temporaries first and spends its time moving them
(``benchmarks/bench_pair_scores.py`` measures both). This one needs torch, so it serves the label
stage in the driver; Ray Data tasks keep the numpy kernel, which starts without torch.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from finelabel.train.pair_scores import PairScores


def sampled_pair_scores(scores: PairScores, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(N,) float64 r of pairs of item ids ``left`` (N,), ``right`` (N,): the same r as
    ``scores(left, right)`` (within float32 rounding), net by net as it weighs them."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    out = np.zeros(len(left), dtype=np.float64)
    for net in range(len(scores.weights)):
        share = 0.5 * ((scores.folds[left] == net).astype(np.float64)
                       + (scores.folds[right] == net))  # (N,) in {0, 0.5, 1}
        rows = np.flatnonzero(share)
        if rows.size:
            embeddings = torch.from_numpy(np.ascontiguousarray(scores.embeddings[net]))
            weighted = embeddings * torch.from_numpy(scores.weights[net]).to(embeddings.dtype)
            dots = sampled_dots(weighted, embeddings, left[rows], right[rows])
            out[rows] += share[rows] * (dots + scores.biases[net])
    return out


def sampled_dots(a: torch.Tensor, b: torch.Tensor, left: np.ndarray,
                 right: np.ndarray) -> np.ndarray:
    """(N,) float64 a[left[i]] . b[right[i]] for row-aligned ids (a, b: (n, d))."""
    n = a.shape[0]
    # CSR wants rows in order and columns within; a pair asked twice is one entry (torch's
    # kernel fails when there are more entries than the dense matrix has)
    keys, inverse = np.unique(left * n + right, return_inverse=True)
    rows, cols = np.divmod(keys, n)
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=crow[1:])
    with warnings.catch_warnings():  # "sparse CSR support is in beta": sampled_addmm works
        warnings.simplefilter("ignore", UserWarning)
        pattern = torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols),
                                          torch.zeros(len(cols), dtype=a.dtype), (n, n),
                                          check_invariants=False)
        product = torch.sparse.sampled_addmm(pattern, a, b.t(), beta=0.0)
    return product.values().numpy().astype(np.float64)[inverse.reshape(-1)]
