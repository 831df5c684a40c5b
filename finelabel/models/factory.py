"""The one door that builds models: from a :class:`ModelConfig` and the data they run on.

A checkpoint holds weights only; :func:`create_model` rebuilds the module (its Laplacian, its
image normalisation) from the same (config, data) before ``load_state_dict``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp
from torch import Tensor, nn

from finelabel.config import ModelConfig
from finelabel.models.cosine_head import CosineHead
from finelabel.models.dual_path import DualPathModel
from finelabel.models.feature_norm import image_normalizer
from finelabel.models.image_encoder import ImageEncoder
from finelabel.models.label_head import LabelSpaceHead
from finelabel.models.score_head import ScoreHead
from finelabel.models.siamese import SiameseTextModel
from finelabel.models.text_encoder import TextGCNEncoder
from finelabel.models.text_signal import fit_text_signal
from finelabel.resolver import resolve
from finelabel.typing import EdgeIndex

MODEL_KINDS = ("siamese", "dual")


class ModelData(Protocol):
    """What building a model needs of the prepared data (a :class:`PreparedData`)."""

    edge_index: EdgeIndex
    num_nodes: int
    text_signals: sp.csr_matrix  # (n, |V|) word counts of every item

    @property
    def image_dim(self) -> int: ...

    @property
    def num_classes(self) -> int: ...

    def indices(self, split: str) -> np.ndarray: ...

    def images(self, item_ids: np.ndarray) -> Tensor: ...


def build_text_encoder(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int,
                       signal: nn.Module | None = None) -> TextGCNEncoder:
    """The text GCN encoder on the word graph (N = num_nodes), ``signal`` applied first."""
    return TextGCNEncoder(edge_index, num_nodes, cheb_order=cfg.cheb_order, filters=cfg.filters,
                          embed_dim=cfg.embed_dim, signal=signal)


def build_head(cfg: ModelConfig, num_classes: int | None = None) -> nn.Module:
    """The score of two embeddings: ``head``, ``cosine`` or ``label`` (model.score)."""
    if cfg.score == "cosine":
        return CosineHead()
    if cfg.score == "label":
        if not num_classes:
            raise ValueError("a label-space score needs the number of categories")
        return LabelSpaceHead(cfg.embed_dim, num_classes)
    return ScoreHead(cfg.embed_dim, cfg.dropout)


def build_siamese(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int,
                  signal: nn.Module | None = None) -> SiameseTextModel:
    """The siamese text-text model: one shared encoder, its own (paper's) score head."""
    return SiameseTextModel(build_text_encoder(cfg, edge_index, num_nodes, signal),
                            ScoreHead(cfg.embed_dim, cfg.dropout))


def build_dual_path(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int, image_dim: int,
                    image_norm: nn.Module | None = None, *, text_signal: nn.Module | None = None,
                    num_classes: int | None = None,
                    label_weight: float = 0.0) -> DualPathModel:
    """The text-image model for image features of size image_dim.

    ``image_norm`` and ``text_signal`` (fitted on training items) run first on their paths,
    inside the model, so checkpoints carry them. A classifier for the label-space term is added
    when ``label_weight`` > 0 (a label-space score has its own).
    """
    text = build_text_encoder(cfg, edge_index, num_nodes, text_signal)  # first: seeded draws
    image = ImageEncoder(image_dim, cfg.embed_dim)
    steps = [m for m in (image_norm, nn.Dropout(cfg.image_dropout) if cfg.image_dropout else None)
             if m is not None]
    head = build_head(cfg, num_classes)
    classifier = None
    if label_weight > 0 and cfg.score != "label":
        classifier = nn.Linear(cfg.embed_dim, num_classes)
    return DualPathModel(text, nn.Sequential(*steps, image) if steps else image, head, classifier)


def create_model(kind: str, cfg: ModelConfig, data: ModelData, *,
                 label_weight: float = 0.0) -> nn.Module:
    """A fresh ``siamese`` or ``dual`` model on ``data``'s word graph.

    What is fitted (image normalisation, the text signal's idf) is fitted on the training
    split only. ``label_weight`` (loss.label_weight) > 0 gives the dual path a classifier.
    """
    kind = resolve(kind, {k: k for k in MODEL_KINDS}, "model")
    train = data.indices("train")
    signal = fit_text_signal(cfg.text_signal, data.text_signals[train])
    if kind == "siamese":
        return build_siamese(cfg, data.edge_index, data.num_nodes, signal)
    norm = image_normalizer(cfg.image_norm, data.images(train))
    return build_dual_path(cfg, data.edge_index, data.num_nodes, data.image_dim, norm,
                           text_signal=signal, num_classes=data.num_classes,
                           label_weight=label_weight)
