"""Text GCN encoder, image encoder, score head, and the siamese and dual-path models."""

from finelabel.models.cheb_conv import StaticChebConv, scaled_laplacian
from finelabel.models.dual_path import DualPathModel
from finelabel.models.factory import (
    build_dual_path,
    build_siamese,
    build_text_encoder,
    create_model,
)
from finelabel.models.image_encoder import ImageEncoder
from finelabel.models.score_head import ScoreHead
from finelabel.models.siamese import SiameseTextModel
from finelabel.models.text_encoder import TextGCNEncoder

__all__ = [
    "DualPathModel",
    "ImageEncoder",
    "ScoreHead",
    "SiameseTextModel",
    "StaticChebConv",
    "TextGCNEncoder",
    "build_dual_path",
    "build_siamese",
    "build_text_encoder",
    "create_model",
    "scaled_laplacian",
]
