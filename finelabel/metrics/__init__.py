"""Retrieval metrics: pure functions over score matrices (higher = more relevant) and labels.

Relevant = same category. Rankings are stable (equal scores keep database order), work chunk by
chunk over query rows, and have ``*_chunked`` forms that read score rows from a callable so a
(10^4, 10^5) evaluation never holds its full matrix.
"""

from finelabel.metrics.average_precision import (
    average_precision_of_ranks,
    average_precision_per_query,
    average_precision_per_query_chunked,
    mean_average_precision,
    mean_average_precision_chunked,
    mean_by_class,
    per_class_average_precision,
)
from finelabel.metrics.cross_modal import (
    CrossModalScores,
    cross_modal_map,
    flat_report,
    retrieval_report,
)
from finelabel.metrics.precision_recall import (
    WholeRanking,
    precision_recall_curve,
    precision_recall_curve_chunked,
    recall_levels,
    whole_ranking_chunked,
)
from finelabel.metrics.ranking import ScoreRows, ranked_relevance

__all__ = [
    "CrossModalScores",
    "ScoreRows",
    "WholeRanking",
    "average_precision_of_ranks",
    "average_precision_per_query",
    "average_precision_per_query_chunked",
    "cross_modal_map",
    "flat_report",
    "mean_average_precision",
    "mean_average_precision_chunked",
    "mean_by_class",
    "per_class_average_precision",
    "precision_recall_curve",
    "precision_recall_curve_chunked",
    "ranked_relevance",
    "recall_levels",
    "whole_ranking_chunked",
    "retrieval_report",
]
