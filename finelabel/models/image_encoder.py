"""The image encoder f_I: fixed image features mapped to the common space by one dense layer."""

from __future__ import annotations

from torch import Tensor, nn

from finelabel.typing import ImageFeatures


class ImageEncoder(nn.Module):
    """Linear map from fixed features (4096-d VGG-19 fc7, 128-d SIFT, ...) to embed_dim."""

    def __init__(self, in_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_dim, embed_dim)
        self.in_dim = in_dim
        self.embed_dim = embed_dim

    def forward(self, x: ImageFeatures) -> Tensor:
        """Embed features x (B, D) -> (B, embed_dim)."""
        return self.fc(x)
