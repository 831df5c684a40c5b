"""A label-space score: both embeddings mapped to category posteriors by one shared linear
classifier, and scored by the dot product of the posteriors.

This is the semantic correlation matching of Rasiwasia et al. (2010) trained end to end: a
text and an image score high when they are likely to share a category. The classifier also
gives the label-space term of the loss its logits (as DSCMR and similar methods use).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class LabelSpaceHead(nn.Module):
    """s(u, v) = softmax(W u + c) . softmax(W v + c), in [0, 1]."""

    def __init__(self, embed_dim: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def posteriors(self, x: Tensor) -> Tensor:
        """(B, d) embeddings -> (B, C) category posteriors."""
        return torch.softmax(self.classifier(self.dropout(x)), dim=-1)

    def forward(self, u: Tensor, v: Tensor) -> Tensor:
        """Row-aligned pairs u (B, d), v (B, d) -> (B,)."""
        return (self.posteriors(u) * self.posteriors(v)).sum(-1)

    def pair_matrix(self, u: Tensor, v: Tensor) -> Tensor:
        """Every row of u (n, d) against every row of v (m, d) -> (n, m)."""
        return self.posteriors(u) @ self.posteriors(v).T

    def scorer(self, db: Tensor) -> Callable[[Tensor], Tensor]:
        """Score query rows (q, d) against the fixed rows ``db`` (n, d) -> (q, n), the
        database's posteriors computed once (a ranking asks for them once per query chunk)."""
        posteriors = self.posteriors(db)
        return lambda queries: self.posteriors(queries) @ posteriors.T

    def score_matrix(self, u: Tensor, v: Tensor, chunk_size: int = 4096) -> Tensor:
        score = self.scorer(v)  # v's posteriors once, not once per chunk of u
        return torch.cat([score(chunk) for chunk in u.split(chunk_size)]) \
            if len(u) else u.new_zeros((0, v.shape[0]))
