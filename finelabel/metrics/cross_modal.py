"""Cross-modal MAP under both evaluation protocols of DESIGN.md.

Items are (text, image, category) triples. An image query ranks the database texts (i2t), a
text query ranks the database images (t2i); text k and image k share category k, so one label
vector serves the queries of both directions and one the database. The two protocols differ
only in the database and in k:

- ``all``: test queries against the test items, AP over the whole ranking (k = None);
- ``train_at_K``: test queries against the training items, AP over the top K (100).

The caller scores the embeddings (this module never sees a model) and passes, per protocol,
either full score matrices or :data:`~finelabel.metrics.ranking.ScoreRows` callables.
"""

from __future__ import annotations

from dataclasses import dataclass

from finelabel.metrics.average_precision import mean_average_precision_chunked
from finelabel.metrics.ranking import Labels, ScoreRows, as_labels, as_score_rows
from finelabel.typing import ScoreMatrix

DIRECTIONS = ("i2t", "t2i")


@dataclass(frozen=True)
class CrossModalScores:
    """The scores of one protocol in both directions, and the labels they are judged by.

    i2t: (n_queries, n_db) query images against database texts; t2i: (n_queries, n_db) query
    texts against database images. query_labels: (n_queries,); db_labels: (n_db,).
    """

    i2t: ScoreMatrix | ScoreRows
    t2i: ScoreMatrix | ScoreRows
    query_labels: Labels
    db_labels: Labels


def cross_modal_map(
    scores: CrossModalScores, k: int | None = None, *, chunk_size: int = 256
) -> dict[str, float]:
    """{"i2t": MAP, "t2i": MAP, "avg": their mean} of one protocol (k as in MAP)."""
    n_queries = as_labels(scores.query_labels).numel()
    result = {
        name: mean_average_precision_chunked(
            as_score_rows(getattr(scores, name)), n_queries, scores.query_labels,
            scores.db_labels, k, chunk_size=chunk_size)
        for name in DIRECTIONS
    }
    result["avg"] = (result["i2t"] + result["t2i"]) / 2
    return result


#: The protocol name of test queries against the test set, over the whole ranking.
ALL = "all"


def train_protocol(top_k: int) -> str:
    """The protocol name of test queries against the training set, AP over the top ``top_k``."""
    return f"train_at_{top_k}"


def retrieval_report(
    test: CrossModalScores,
    train: CrossModalScores | None = None,
    *,
    top_k: int = 100,
    chunk_size: int = 256,
) -> dict[str, dict[str, float]]:
    """{"all": {...}} (whole ranking) and, given ``train``, {"train_at_K": {...}} (AP@top_k)."""
    report = {ALL: cross_modal_map(test, None, chunk_size=chunk_size)}
    if train is not None:
        report[train_protocol(top_k)] = cross_modal_map(train, top_k, chunk_size=chunk_size)
    return report


def flat_report(report: dict[str, dict[str, float]], prefix: str = "test_map") -> dict[str, float]:
    """One metric name per number: ``test_map_i2t`` for "all", ``test_map_train_at_100_i2t``..."""
    return {f"{prefix}_{name}" if protocol == ALL else f"{prefix}_{protocol}_{name}": value
            for protocol, values in report.items() for name, value in values.items()}
