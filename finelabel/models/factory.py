"""Build the models from a :class:`ModelConfig` and the word graph.

A checkpoint holds weights only; these functions rebuild the module (and its Laplacian) from the
same (config, graph) before ``load_state_dict``.
"""

from __future__ import annotations

from finelabel.config import ModelConfig
from finelabel.models.dual_path import DualPathModel
from finelabel.models.image_encoder import ImageEncoder
from finelabel.models.score_head import ScoreHead
from finelabel.models.siamese import SiameseTextModel
from finelabel.models.text_encoder import TextGCNEncoder
from finelabel.typing import EdgeIndex


def build_text_encoder(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int) -> TextGCNEncoder:
    """The text GCN encoder on the word graph (N = num_nodes)."""
    return TextGCNEncoder(edge_index, num_nodes, cheb_order=cfg.cheb_order, filters=cfg.filters,
                          embed_dim=cfg.embed_dim)


def build_siamese(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int) -> SiameseTextModel:
    """The siamese text-text model: one shared encoder, its own score head."""
    return SiameseTextModel(build_text_encoder(cfg, edge_index, num_nodes),
                            ScoreHead(cfg.embed_dim, cfg.dropout))


def build_dual_path(cfg: ModelConfig, edge_index: EdgeIndex, num_nodes: int,
                    image_dim: int) -> DualPathModel:
    """The text-image model for image features of size image_dim."""
    return DualPathModel(build_text_encoder(cfg, edge_index, num_nodes),
                         ImageEncoder(image_dim, cfg.embed_dim),
                         ScoreHead(cfg.embed_dim, cfg.dropout))
