"""Retrieval evaluation of trained models on a prepared dataset (pure PyTorch, no Ray).

Used by the training loop (validation MAP every epoch) and by the evaluate stage (both
protocols of DESIGN.md, PR curves, per-class AP). Every item is embedded once; score rows are
produced chunk by chunk, so large databases never hold a full score matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from finelabel.data.prepared import PreparedData
from finelabel.evaluation.queries import evaluation_queries
from finelabel.metrics import (
    CrossModalScores,
    cross_modal_map,
    mean_average_precision_chunked,
    mean_by_class,
    whole_ranking_chunked,
)
from finelabel.metrics.cross_modal import ALL, DIRECTIONS, train_protocol
from finelabel.models import DualPathModel, SiameseTextModel


@torch.no_grad()
def encode(fn: Callable[[Tensor], Tensor], fetch: Callable[[np.ndarray], Tensor],
           ids: np.ndarray, *, batch_size: int = 256, device: torch.device | None = None) -> Tensor:
    """Embed items ``ids`` in batches: fn(fetch(ids)) -> (len(ids), d) on the CPU."""
    chunks = [fn(fetch(ids[i:i + batch_size]).to(device)).cpu()
              for i in range(0, len(ids), batch_size)]
    return torch.cat(chunks) if chunks else torch.empty(0)


def weights_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def on_device(scorer: Callable[[Tensor], Callable[[Tensor], Tensor]], db: Tensor,
              device: torch.device) -> Callable[[Tensor], Tensor]:
    """``scorer(db)`` run where the model's weights are (a GPU-trained head scores there);
    embeddings are kept on the CPU and score rows come back to it, where rankings are taken."""
    score = scorer(db.to(device))
    return lambda queries: score(queries.to(device)).cpu()


@dataclass
class Embedded:
    """Text and image embeddings (n, d) of a set of items, with their labels (n,)."""

    text: Tensor
    image: Tensor
    labels: np.ndarray


def embed_items(model: DualPathModel, data: PreparedData, ids: np.ndarray,
                device: torch.device | None = None) -> Embedded:
    was_training = model.training
    model.eval()
    text = encode(model.encode_text, data.texts, ids, device=device)
    image = encode(model.encode_image, data.images, ids, device=device)
    model.train(was_training)
    return Embedded(text, image, data.labels[ids])


def protocol_scores(model: DualPathModel, queries: Embedded, db: Embedded) -> CrossModalScores:
    """Score rows for both directions: query images vs db texts, query texts vs db images
    (the database's side of the head computed once, not once per chunk of queries)."""
    device = weights_device(model)
    texts, images = on_device(model.scorer, db.text, device), on_device(model.scorer, db.image,
                                                                        device)

    def i2t(rows: slice) -> Tensor:
        return texts(queries.image[rows])  # (rows, n_db)

    def t2i(rows: slice) -> Tensor:
        return images(queries.text[rows])  # (rows, n_db)

    return CrossModalScores(i2t, t2i, queries.labels, db.labels)


def split_map(model: DualPathModel, data: PreparedData, split: str = "val",
              device: torch.device | None = None) -> dict[str, float]:
    """{"i2t", "t2i", "avg"} MAP of ``split`` queries against the same split (whole ranking)."""
    items = embed_items(model, data, data.indices(split), device)
    with torch.no_grad():
        return cross_modal_map(protocol_scores(model, items, items))


def siamese_map(model: SiameseTextModel, data: PreparedData, split: str = "val",
                device: torch.device | None = None) -> dict[str, float]:
    """{"t2t"}: MAP of ``split`` texts against the training texts, ranked by r(T_a, T_b)."""
    was_training = model.training
    model.eval()
    queries, db = data.indices(split), data.indices("train")
    q = encode(model.embed, data.texts, queries, device=device)
    d = encode(model.embed, data.texts, db, device=device)
    model.train(was_training)

    with torch.no_grad():
        score = on_device(model.head.scorer, d, weights_device(model))

        def rows(part: slice) -> Tensor:
            return score(q[part])  # (rows, n_db)

        value = mean_average_precision_chunked(rows, len(queries), data.labels[queries],
                                               data.labels[db])
    return {"t2t": value}


def evaluate_model(model: DualPathModel, data: PreparedData, *, top_k: int = 100,
                   max_queries: int = 0, device: torch.device | None = None) -> dict:
    """Both protocols, per-class AP and PR curves of the test split.

    ``all``: test queries against the test set, AP over the whole ranking; ``train_at_K``: test
    queries against the training split (train + val), AP over the top K. Past ``max_queries``
    test items, a seeded sample of them is asked (:mod:`finelabel.evaluation.queries`).
    """
    test_ids = data.indices("test")
    test = embed_items(model, data, test_ids, device)
    asked = np.searchsorted(test_ids, evaluation_queries(test_ids, max_queries))
    queries = Embedded(test.text[asked], test.image[asked], test.labels[asked])
    train_ids = np.concatenate([data.indices("train"), data.indices("val")])
    train = embed_items(model, data, train_ids, device)
    with torch.no_grad():
        test_scores = protocol_scores(model, queries, test)
        # one whole ranking per query serves the "all" MAP, per-class AP and the PR curves
        whole = {name: whole_ranking_chunked(getattr(test_scores, name), len(queries.labels),
                                             queries.labels, test.labels)
                 for name in DIRECTIONS}
        report = {ALL: _mean_ap({name: w.ap for name, w in whole.items()}),
                  train_protocol(top_k): cross_modal_map(protocol_scores(model, queries, train),
                                                         top_k)}
    per_class = {name: mean_by_class(w.ap, queries.labels) for name, w in whole.items()}
    curves = {name: (w.recall, w.precision) for name, w in whole.items()}
    return {"test": report, "per_class": per_class, "pr_curves": curves,
            "queries": {"asked": len(asked), "of": len(test_ids)}}


def _mean_ap(ap: dict[str, np.ndarray]) -> dict[str, float]:
    """{direction: MAP, "avg": their mean}, as :func:`cross_modal_map` reports a protocol."""
    result = {name: float(values.mean()) if values.size else 0.0 for name, values in ap.items()}
    result["avg"] = (result["i2t"] + result["t2i"]) / 2
    return result

