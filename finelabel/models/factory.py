"""The one door that builds models: from a :class:`ModelConfig` and the data they run on.

A checkpoint holds weights only; :func:`create_model` rebuilds the module (its Laplacian, its
image normalisation) from the same (config, data) before ``load_state_dict``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from torch import Tensor, nn

from finelabel.config import ModelConfig
from finelabel.models.dual_path import DualPathModel
from finelabel.models.feature_norm import image_normalizer
from finelabel.models.image_encoder import ImageEncoder
from finelabel.models.score_head import ScoreHead
from finelabel.models.siamese import SiameseTextModel
from finelabel.models.text_encoder import TextGCNEncoder
from finelabel.resolver import resolve
from finelabel.typing import EdgeIndex

MODEL_KINDS = ("siamese", "dual")


class ModelData(Protocol):
    """What building a model needs of the prepared data (a :class:`PreparedData`)."""

    edge_index: EdgeIndex
    num_nodes: int

    @property
    def image_dim(self) -> int: ...

    def indices(self, split: str) -> np.ndarray: ...

    def images(self, item_ids: np.ndarray) -> Tensor: ...


def build_text_encoder(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int) -> TextGCNEncoder:
    """The text GCN encoder on the word graph (N = num_nodes)."""
    return TextGCNEncoder(edge_index, num_nodes, cheb_order=cfg.cheb_order, filters=cfg.filters,
                          embed_dim=cfg.embed_dim)


def build_siamese(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int) -> SiameseTextModel:
    """The siamese text-text model: one shared encoder, its own score head."""
    return SiameseTextModel(build_text_encoder(cfg, edge_index, num_nodes),
                            ScoreHead(cfg.embed_dim, cfg.dropout))


def build_dual_path(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int, image_dim: int,
                    image_norm: nn.Module | None = None) -> DualPathModel:
    """The text-image model for image features of size image_dim; ``image_norm`` (fitted on
    training features) runs first on the image path, inside the model, so checkpoints carry it."""
    text = build_text_encoder(cfg, edge_index, num_nodes)  # first: the seed draws its weights
    image = ImageEncoder(image_dim, cfg.embed_dim)
    return DualPathModel(text, image if image_norm is None else nn.Sequential(image_norm, image),
                         ScoreHead(cfg.embed_dim, cfg.dropout))


def create_model(kind: str, cfg: ModelConfig, data: ModelData) -> nn.Module:
    """A fresh ``siamese`` or ``dual`` model on ``data``'s word graph.

    The dual path's image normalisation is fitted on the training split only.
    """
    kind = resolve(kind, {k: k for k in MODEL_KINDS}, "model")
    if kind == "siamese":
        return build_siamese(cfg, data.edge_index, data.num_nodes)
    norm = image_normalizer(cfg.image_norm, data.images(data.indices("train")))
    return build_dual_path(cfg, data.edge_index, data.num_nodes, data.image_dim, norm)
