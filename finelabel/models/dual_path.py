"""The cross-modal model: text encoder and image encoder meeting in one score head."""

from __future__ import annotations

from torch import Tensor, nn

from finelabel.models.image_encoder import ImageEncoder
from finelabel.models.score_head import ScoreHead
from finelabel.models.text_encoder import TextGCNEncoder
from finelabel.typing import ImageFeatures, TextSignals


class DualPathModel(nn.Module):
    """Score text-image pairs s(T, I) = head(f_T(T), f_I(I))."""

    def __init__(self, text_encoder: TextGCNEncoder, image_encoder: ImageEncoder,
                 head: ScoreHead) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.head = head

    def encode_text(self, text: TextSignals) -> Tensor:
        """Embed texts (B, N) -> (B, d)."""
        return self.text_encoder(text)

    def encode_image(self, image: ImageFeatures) -> Tensor:
        """Embed image features (B, D) -> (B, d)."""
        return self.image_encoder(image)

    def forward(self, text: TextSignals, image: ImageFeatures) -> Tensor:
        """Score row-aligned pairs text (B, N), image (B, D) -> (B,)."""
        return self.head(self.encode_text(text), self.encode_image(image))

    def score_matrix(self, text_emb: Tensor, image_emb: Tensor, chunk_size: int = 4096) -> Tensor:
        """Score every text (n_text, d) against every image (n_image, d) -> (n_text, n_image)."""
        return self.head.score_matrix(text_emb, image_emb, chunk_size=chunk_size)
