"""Precision-recall curves of a retrieval, averaged over queries.

For each query the full ranking gives a precision and a recall at every rank; the curve keeps
the interpolated precision at fixed recall levels, p(r) = max precision at any rank whose recall
is >= r (the 11-point interpolated curve of TREC and Rasiwasia et al. 2010 by default), and
averages it over the queries. A query with no relevant item has no recall and is left out of
the average; :func:`precision_recall_curve_chunked` returns how many were. The curve always
ranks the whole database (a top-k cut would never reach recall 1). Memory is about 60 bytes per
element of a (chunk_size, n_db) chunk, hence the smaller default chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from finelabel.metrics.average_precision import average_precision_of_ranks
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

_RECALL_TOLERANCE = 1e-9


def recall_levels(points: int | Sequence[float]) -> np.ndarray:
    """(p,) recall levels: ``points`` evenly spaced in [0, 1], or the given grid checked."""
    if isinstance(points, int):
        if points < 2:
            raise ValueError(f"points must be >= 2, got {points}")
        return np.linspace(0.0, 1.0, points)
    levels = np.asarray(points, dtype=np.float64)
    if levels.ndim != 1 or not levels.size or (levels < 0).any() or (levels > 1).any():
        raise ValueError("a recall grid must be a non-empty list of values in [0, 1]")
    return levels


def interpolated_precision(relevant: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """(c, p) interpolated precision at recall ``levels`` (p,) of rankings (c, n) bool.

    Rows with no relevant item give NaN.
    """
    c, n = relevant.shape
    if n == 0:
        return torch.full((c, levels.numel()), torch.nan, dtype=torch.float64,
                          device=relevant.device)
    found = relevant.cumsum(dim=1, dtype=torch.int32).double()  # (c, n)
    ranks = torch.arange(1, n + 1, dtype=torch.float64, device=relevant.device)
    total = found[:, -1:]  # (c, 1) relevant items of each query
    recall = found / total  # (c, n), NaN rows where total == 0
    precision = found / ranks
    best_after = precision.flip(1).cummax(dim=1).values.flip(1)  # max precision at rank >= i
    # A level matches a rank whose recall equals it up to rounding (3/10 vs linspace's 0.3).
    wanted = (levels - _RECALL_TOLERANCE).expand(c, -1).contiguous()  # (c, p)
    first = torch.searchsorted(recall.contiguous(), wanted)  # first rank reaching each level
    curve = best_after.gather(1, first.clamp(max=n - 1))
    return torch.where(total > 0, curve, torch.nan)


def precision_recall_curve_chunked(
    score_rows: ScoreRows,
    n_queries: int,
    query_labels: Labels,
    db_labels: Labels,
    *,
    points: int | Sequence[float] = 11,
    chunk_size: int = 256,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(recall (p,), mean interpolated precision (p,), queries left out for having no hit)."""
    whole = whole_ranking_chunked(score_rows, n_queries, query_labels, db_labels, points=points,
                                  chunk_size=chunk_size)
    return whole.recall, whole.precision, whole.left_out


def precision_recall_curve(
    scores: ScoreMatrix,
    query_labels: Labels,
    db_labels: Labels,
    *,
    points: int | Sequence[float] = 11,
    chunk_size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision), each (p,): the mean interpolated PR curve of a score matrix."""
    recall, precision, _ = precision_recall_curve_chunked(
        as_score_rows(scores), len(scores), query_labels, db_labels, points=points,
        chunk_size=chunk_size)
    return recall, precision


@dataclass(frozen=True)
class WholeRanking:
    """What one whole ranking per query gives: each query's AP (k = None) and the mean
    interpolated precision-recall curve, with the queries the curve left out (no hit)."""

    ap: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    left_out: int


def whole_ranking_chunked(
    score_rows: ScoreRows,
    n_queries: int,
    query_labels: Labels,
    db_labels: Labels,
    *,
    points: int | Sequence[float] = 11,
    chunk_size: int = 256,
) -> WholeRanking:
    """AP per query and the PR curve from one ranking of each chunk: sorting every query's
    whole database is most of the cost of both, so they share it."""
    grid = recall_levels(points)
    query_labels = as_labels(query_labels)
    if query_labels.numel() != n_queries:
        raise ValueError(f"{query_labels.numel()} query labels for {n_queries} queries")
    db = as_labels(db_labels)
    ap = np.zeros(n_queries, dtype=np.float64)
    total = np.zeros(grid.size, dtype=np.float64)
    counted = 0
    for rows in query_chunks(n_queries, chunk_size):
        chunk = score_chunk(score_rows(rows), rows.stop - rows.start, db.numel())
        db = db.to(chunk.device)
        relevant = ranked_relevance(chunk, query_labels[rows].to(chunk.device), db, db.numel())
        ap[rows] = average_precision_of_ranks(relevant).cpu().numpy()
        curves = interpolated_precision(relevant, torch.as_tensor(grid, device=chunk.device))
        curves = curves.cpu().numpy()
        kept = ~np.isnan(curves[:, 0])
        total += curves[kept].sum(axis=0)
        counted += int(kept.sum())
    precision = total / counted if counted else np.zeros_like(total)
    return WholeRanking(ap, grid, precision, n_queries - counted)
