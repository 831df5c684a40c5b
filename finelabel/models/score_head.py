"""The learned score s(u, v) = w . dropout(u * v) + b ("distance metric learning")."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


class ScoreHead(nn.Module):
    """Score embedding pairs with a learned weighting of their element-wise product.

    Not a cosine: the weights w and bias b are trained with the encoders.
    """

    def __init__(self, embed_dim: int, dropout: float = 0.4) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(embed_dim, 1)

    def forward(self, u: Tensor, v: Tensor) -> Tensor:
        """Score row-aligned pairs u (B, d), v (B, d) -> (B,)."""
        return self.fc(self.dropout(u * v)).squeeze(-1)

    def pair_matrix(self, u: Tensor, v: Tensor) -> Tensor:
        """Score every row of u (n, d) against every row of v (m, d) -> (n, m), dropout on."""
        products = u[:, None, :] * v[None, :, :]  # (n, m, d)
        return self.fc(self.dropout(products)).squeeze(-1)  # (n, m)

    def scorer(self, db: Tensor) -> Callable[[Tensor], Tensor]:
        """Score query rows (q, d) against the fixed rows ``db`` (n, d) -> (q, n), without
        dropout: (q * w) @ db.T + b, as :meth:`score_matrix` scores them."""
        weight = self.fc.weight[0]
        return lambda queries: (queries * weight) @ db.T + self.fc.bias

    def score_matrix(self, u: Tensor, v: Tensor, chunk_size: int = 4096) -> Tensor:
        """Score every row of u (n, d) against every row of v (m, d) -> (n, m), without dropout.

        One matrix product per chunk of u rows: (u * w) @ v.T + b, which equals ``forward`` in
        eval mode on all n * m pairs without materialising them.
        """
        score = self.scorer(v)
        rows = [score(chunk) for chunk in u.split(chunk_size)]
        return torch.cat(rows) if rows else u.new_zeros((0, v.shape[0]))
