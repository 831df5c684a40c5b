"""The cross-modal model: text encoder and image encoder meeting in one score head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from finelabel.typing import ImageFeatures, TextSignals

#: This worker's rows (b, d) -> the global batch's rows (B, d) (see ``train.across_workers``).
Gather = Callable[[Tensor], Tensor]


@dataclass
class ModelOutput:
    """Scores of a batch, and the category logits of both sides (for the label-space term)."""

    scores: Tensor  # (B,) row-aligned pairs, or (B, B) all pairs
    text_logits: Tensor  # (B, C)
    image_logits: Tensor  # (B, C)


class DualPathModel(nn.Module):
    """Score text-image pairs s(T, I) = head(f_T(T), f_I(I)).

    ``classifier`` (d -> categories), when given, maps either embedding to category logits for
    the label-space term of the loss; a label-space head brings its own.
    """

    def __init__(self, text_encoder: nn.Module, image_encoder: nn.Module, head: nn.Module,
                 classifier: nn.Module | None = None) -> None:
        super().__init__()
        self.text_encoder = text_encoder
        self.image_encoder = image_encoder
        self.head = head
        self.classifier = classifier

    def encode_text(self, text: TextSignals) -> Tensor:
        """Embed texts (B, N) -> (B, d)."""
        return self.text_encoder(text)

    def encode_image(self, image: ImageFeatures) -> Tensor:
        """Embed image features (B, D) -> (B, d)."""
        return self.image_encoder(image)

    def logits(self, embedding: Tensor) -> Tensor:
        """(B, d) embeddings of either side -> (B, C) category logits."""
        classifier = self.classifier if self.classifier is not None else getattr(
            self.head, "classifier", None)
        if classifier is None:
            raise ValueError("this model has no classifier: set loss.label_weight > 0 or "
                             "model.score=label")
        return classifier(embedding)

    def forward(self, text: TextSignals, image: ImageFeatures, *, all_pairs: bool = False,
                with_logits: bool = False, gather: Gather | None = None) -> Tensor | ModelOutput:
        """Score text (B, N) with image (B, D): row-aligned pairs -> (B,), or every text with
        every image (``all_pairs``) -> (B, B); with the logits of both sides if asked.

        ``gather`` (all pairs only) turns this worker's embeddings into the global batch's, so
        that the scores cover every worker's pairs; the logits stay this worker's."""
        u, v = self.encode_text(text), self.encode_image(image)
        if not all_pairs:
            scores = self.head(u, v)
        elif gather is None:
            scores = self.head.pair_matrix(u, v)
        else:
            scores = self.head.pair_matrix(gather(u), gather(v))
        if not with_logits:
            return scores
        return ModelOutput(scores, self.logits(u), self.logits(v))

    def scorer(self, db: Tensor) -> Callable[[Tensor], Tensor]:
        """Score query embeddings (q, d) against fixed database embeddings ``db`` (n, d) ->
        (q, n), the database's side of the head computed once. Every head is symmetric
        (s(u, v) = s(v, u)), so texts may query images or images texts."""
        return self.head.scorer(db)

    def score_matrix(self, text_emb: Tensor, image_emb: Tensor, chunk_size: int = 4096) -> Tensor:
        """Score every text (n_text, d) against every image (n_image, d) -> (n_text, n_image)."""
        return self.head.score_matrix(text_emb, image_emb, chunk_size=chunk_size)
