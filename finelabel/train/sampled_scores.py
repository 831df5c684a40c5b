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

#: Items whose weighted rows (u * w) one product takes: 64 MB at d = 1024, where weighting
#: every embedding at once would copy them all (800 MB at 200k items).
ITEMS_PER_PRODUCT = 16_384


def sampled_pair_scores(scores: PairScores, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(N,) float64 r of pairs of item ids ``left`` (N,), ``right`` (N,): the same r as
    ``scores(left, right)`` (within float32 rounding), net by net as it weighs them."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    out = np.zeros(len(left), dtype=np.float64)
    for net in range(len(scores.weights)):
        share = scores.share(net, left, right)
        rows = np.flatnonzero(share)
        if rows.size:
            embeddings = torch.from_numpy(np.ascontiguousarray(scores.embeddings[net]))
            weight = torch.from_numpy(scores.weights[net]).to(embeddings.dtype)
            dots = sampled_dots(embeddings, weight, left[rows], right[rows])
            out[rows] += share[rows] * (dots + scores.biases[net])
    return out


def sampled_dots(embeddings: torch.Tensor, weight: torch.Tensor, left: np.ndarray,
                 right: np.ndarray) -> np.ndarray:
    """(N,) float64 (embeddings[left[i]] * weight) . embeddings[right[i]] for row-aligned ids
    (embeddings (n, d), weight (d,))."""
    n = embeddings.shape[0]
    # CSR wants rows in order and columns within; a pair asked twice is one entry (torch's
    # kernel fails when there are more entries than the dense matrix has)
    keys, inverse = np.unique(left * n + right, return_inverse=True)
    rows, cols = np.divmod(keys, n)
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=crow[1:])
    dots = np.empty(len(keys), dtype=np.float64)
    for first in range(0, n, ITEMS_PER_PRODUCT):
        last = min(first + ITEMS_PER_PRODUCT, n)
        start, stop = int(crow[first]), int(crow[last])
        if start < stop:
            pattern = _csr(crow[first:last + 1] - start, cols[start:stop], (last - first, n),
                           embeddings.dtype)
            with warnings.catch_warnings():  # "sparse CSR support is in beta": this works
                warnings.simplefilter("ignore", UserWarning)
                product = torch.sparse.sampled_addmm(pattern, embeddings[first:last] * weight,
                                                     embeddings.t(), beta=0.0)
            dots[start:stop] = product.values().numpy()
    return dots[inverse.reshape(-1)]


def _csr(crow: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
         dtype: torch.dtype) -> torch.Tensor:
    """The sampling pattern: a CSR matrix whose values the product overwrites."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols),
                                       torch.zeros(len(cols), dtype=dtype), shape,
                                       check_invariants=False)
