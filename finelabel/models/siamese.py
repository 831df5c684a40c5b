"""The siamese text-text network r(T_a, T_b) whose scores become fine-grained labels."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from finelabel.models.dual_path import Gather
from finelabel.models.score_head import ScoreHead
from finelabel.models.text_encoder import TextGCNEncoder
from finelabel.typing import TextSignals


class SiameseTextModel(nn.Module):
    """One text encoder on both sides (shared weights) and its own score head."""

    def __init__(self, encoder: TextGCNEncoder, head: ScoreHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def embed(self, x: TextSignals) -> Tensor:
        """Embed texts x (B, N) -> (B, d)."""
        return self.encoder(x)

    def score_embeddings(self, ua: Tensor, ub: Tensor) -> Tensor:
        """Score pairs of embedded texts ua (B, d), ub (B, d) -> (B,).

        The labelling stage embeds each distinct text once, then scores its pairs here.
        """
        return self.head(ua, ub)

    def forward(self, xa: TextSignals, xb: TextSignals, *, all_pairs: bool = False,
                with_logits: bool = False, gather: Gather | None = None) -> Tensor:
        """Score text pairs xa (B, N), xb (B, N) -> (B,), or every a with every b -> (B, B);
        ``gather``: as :meth:`DualPathModel.forward`'s."""
        if with_logits:
            raise ValueError("the siamese net has no classifier (it trains with beta = 0 and "
                             "no label-space term)")
        both = self.encoder(torch.cat([xa, xb]))  # (2B, d): one pass through the encoder
        ua, ub = both.split(xa.shape[0])
        if not all_pairs:
            return self.head(ua, ub)
        if gather is not None:
            ua, ub = gather(ua), gather(ub)
        return self.head.pair_matrix(ua, ub)
