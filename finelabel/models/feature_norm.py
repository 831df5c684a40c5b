"""Input normalisation of fixed image features, kept in the model so checkpoints carry it.

Fixed features come at very different scales (English Wikipedia's SIFT histograms sum to 1, so
each value is ~1/128; VGG-19 fc7 values reach tens); standardising them with training-split
statistics lets one learning rate serve both.
"""

from __future__ import annotations

from torch import Tensor, nn

from finelabel.config import IMAGE_NORMS
from finelabel.resolver import resolve


class FeatureStandardizer(nn.Module):
    """x (B, D) -> (x - mean) / std, with per-dimension statistics stored as buffers."""

    def __init__(self, mean: Tensor, std: Tensor, eps: float = 1e-6) -> None:
        super().__init__()
        self.register_buffer("mean", mean.float().clone())
        self.register_buffer("std", std.float().clamp_min(eps).clone())

    @classmethod
    def fit(cls, features: Tensor) -> FeatureStandardizer:
        """Statistics of training features (n, D)."""
        return cls(features.mean(dim=0), features.std(dim=0, unbiased=False))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class L2Normalizer(nn.Module):
    """x (B, D) -> x / ||x||, row by row."""

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.normalize(x, dim=-1)


def image_normalizer(name: str, train_features: Tensor) -> nn.Module:
    """The named normalisation, fitted on ``train_features`` (n, D) where it needs statistics."""
    kind = resolve(name, {norm: norm for norm in IMAGE_NORMS}, "image normalisation")
    if kind == "standardize":
        return FeatureStandardizer.fit(train_features)
    return L2Normalizer() if kind == "l2" else nn.Identity()
