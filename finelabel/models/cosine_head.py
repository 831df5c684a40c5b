"""A cosine score s(u, v) = scale * cos(u, v): the common alternative to a learned head."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn
from torch.nn.functional import normalize


class CosineHead(nn.Module):
    """Cosine similarity times a fixed ``scale`` (the loss margins assume scores of order 1)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, u: Tensor, v: Tensor) -> Tensor:
        """Row-aligned pairs u (B, d), v (B, d) -> (B,)."""
        return self.scale * (normalize(u, dim=-1) * normalize(v, dim=-1)).sum(-1)

    def pair_matrix(self, u: Tensor, v: Tensor) -> Tensor:
        """Every row of u (n, d) against every row of v (m, d) -> (n, m)."""
        return self.scale * normalize(u, dim=-1) @ normalize(v, dim=-1).T

    def scorer(self, db: Tensor) -> Callable[[Tensor], Tensor]:
        """Score query rows (q, d) against the fixed rows ``db`` (n, d) -> (q, n), the
        database normalised once."""
        unit = normalize(db, dim=-1)
        return lambda queries: self.scale * normalize(queries, dim=-1) @ unit.T

    def score_matrix(self, u: Tensor, v: Tensor, chunk_size: int = 4096) -> Tensor:
        return self.pair_matrix(u, v)
