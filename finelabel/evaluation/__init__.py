"""Retrieval evaluation of trained models: validation MAP per epoch, both test protocols."""

from finelabel.evaluation.retrieval import (
    Embedded,
    embed_items,
    encode,
    evaluate_model,
    protocol_scores,
    siamese_map,
    split_map,
)

__all__ = ["Embedded", "embed_items", "encode", "evaluate_model", "protocol_scores",
           "siamese_map", "split_map"]
