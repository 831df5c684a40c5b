"""Average precision per query and its means: MAP overall and per class.

AP of one query over the first k ranks is sum_{i <= k, rel_i} P@i / (relevant items in the top
k), P@i the precision of the top i. k = None ranks the whole database, the AP of Rasiwasia et
al. (2010); k = 100 is the predecessors' MAP@100. A query with no relevant item in its top k
scores 0. Ties rank by database index (see :mod:`finelabel.metrics.ranking`).

Each function comes in two forms: over a score matrix (numpy or torch, CPU or GPU) and
``*_chunked`` over a callable that returns the score rows of a slice of queries, so that the
caller never holds the full (n_queries, n_db) matrix. Memory is about 25 bytes per element of
a (chunk_size, n_db) chunk, plus the chunk itself.
"""

from __future__ import annotations

import numpy as np
import torch

from finelabel.metrics.ranking import (
    Labels,
    ScoreRows,
    as_labels,
    as_score_rows,
    query_chunks,
    ranked_relevance,
    score_chunk,
)
from finelabel.typing import ScoreMatrix


def _check_k(k: int | None) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")


def average_precision_of_ranks(relevant: torch.Tensor) -> torch.Tensor:
    """(c,) float64 AP of rows of ranked relevance (c, k) bool; 0 for a row with no hit."""
    c = relevant.shape[0]
    hits = relevant.sum(dim=1)  # (c,)
    found = relevant.cumsum(dim=1, dtype=torch.int32)  # (c, k) hits within the top i
    rows, cols = relevant.nonzero(as_tuple=True)  # one entry per relevant rank
    precision = found[rows, cols].double() / (cols + 1).double()  # P@i at each relevant rank
    total = torch.zeros(c, dtype=torch.float64, device=relevant.device)
    total.index_add_(0, rows, precision)
    return torch.where(hits > 0, total / hits.clamp(min=1), 0.0)


def average_precision_per_query_chunked(
    score_rows: ScoreRows,
    n_queries: int,
    query_labels: Labels,
    db_labels: Labels,
    k: int | None = None,
    *,
    chunk_size: int = 256,
) -> np.ndarray:
    """(n_queries,) float64 AP of each query, reading its scores chunk by chunk."""
    _check_k(k)
    query_labels = as_labels(query_labels)
    if query_labels.numel() != n_queries:
        raise ValueError(f"{query_labels.numel()} query labels for {n_queries} queries")
    db = as_labels(db_labels)
    out = np.zeros(n_queries, dtype=np.float64)
    for rows in query_chunks(n_queries, chunk_size):
        chunk = score_chunk(score_rows(rows), rows.stop - rows.start, db.numel())
        db = db.to(chunk.device)
        relevant = ranked_relevance(chunk, query_labels[rows].to(chunk.device), db,
                                    k or db.numel())
        out[rows] = average_precision_of_ranks(relevant).cpu().numpy()
    return out


def mean_average_precision_chunked(
    score_rows: ScoreRows,
    n_queries: int,
    query_labels: Labels,
    db_labels: Labels,
    k: int | None = None,
    *,
    chunk_size: int = 256,
) -> float:
    """MAP over queries whose score rows come from ``score_rows``; 0.0 for no query."""
    ap = average_precision_per_query_chunked(score_rows, n_queries, query_labels, db_labels, k,
                                             chunk_size=chunk_size)
    return float(ap.mean()) if ap.size else 0.0


def average_precision_per_query(
    scores: ScoreMatrix,
    query_labels: Labels,
    db_labels: Labels,
    k: int | None = None,
    *,
    chunk_size: int = 1024,
) -> np.ndarray:
    """(n_queries,) float64 AP of each row of a (n_queries, n_db) score matrix."""
    return average_precision_per_query_chunked(as_score_rows(scores), len(scores), query_labels,
                                               db_labels, k, chunk_size=chunk_size)


def mean_average_precision(
    scores: ScoreMatrix,
    query_labels: Labels,
    db_labels: Labels,
    k: int | None = None,
    *,
    chunk_size: int = 1024,
) -> float:
    """MAP of a (n_queries, n_db) score matrix; relevant = same label."""
    ap = average_precision_per_query(scores, query_labels, db_labels, k, chunk_size=chunk_size)
    return float(ap.mean()) if ap.size else 0.0


def mean_by_class(values: np.ndarray, labels: Labels) -> dict[int, float]:
    """{label: mean of the values of the queries with that label}, e.g. per-query AP."""
    labels = as_labels(labels).cpu().numpy()
    return {int(c): float(values[labels == c].mean()) for c in np.unique(labels)}


def per_class_average_precision(
    scores: ScoreMatrix,
    query_labels: Labels,
    db_labels: Labels,
    k: int | None = None,
    *,
    chunk_size: int = 1024,
) -> dict[int, float]:
    """{class: MAP of the queries of that class}."""
    ap = average_precision_per_query(scores, query_labels, db_labels, k, chunk_size=chunk_size)
    return mean_by_class(ap, query_labels)
