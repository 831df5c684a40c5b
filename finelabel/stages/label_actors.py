"""Callable classes for Ray Data actor pools that use a trained siamese checkpoint.

Each actor loads the checkpoint once. Texts are embedded once each (:class:`TextEmbedder`);
pairs are then scored from the embeddings by the siamese head alone (:class:`PairScorer`), so a
text shared by many pairs is never encoded twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from finelabel.data.prepared import PreparedData
from finelabel.models import ScoreHead
from finelabel.train.checkpoint import MODEL_FILE, load_model, load_tensors, read_meta
from finelabel.train.hardness import SiameseSimilarity


class TextEmbedder:
    """``{"item_id"}`` -> ``{"item_id", "embedding" (B, k, d)}`` with the text encoders of
    the k siamese nets (one, or one per fold), each loaded once per actor."""

    def __init__(self, checkpoint_dirs: list[str], prepared_dir: str) -> None:
        torch.set_num_threads(1)  # one actor per core: intra-op threads would oversubscribe
        self.data = PreparedData.load(prepared_dir)
        self.models = [load_model(path, self.data, task="siamese") for path in checkpoint_dirs]

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = batch["item_id"]
        texts = self.data.texts(ids)
        embedded = torch.stack([model.embed(texts) for model in self.models], dim=1)  # (B, k, d)
        return {"item_id": ids, "embedding": embedded.numpy()}


def load_head(checkpoint_dir: str | Path) -> ScoreHead:
    """Only the siamese score head: scoring pairs from embeddings needs nothing else."""
    meta = read_meta(checkpoint_dir)
    head = ScoreHead(meta["model"]["embed_dim"], dropout=meta["model"]["dropout"])
    state = load_tensors(Path(checkpoint_dir) / MODEL_FILE)
    head.load_state_dict({k.removeprefix("head."): v for k, v in state.items()
                          if k.startswith("head.")})
    return head.eval()


class PairScorer:
    """Add ``similarity`` r(T_i, T_j) to a batch of pairs (``text_idx`` i, ``image_idx`` j).

    T_j is the text that comes with image j: item j's text, embedded once beforehand.
    """

    def __init__(self, similarity) -> None:
        import ray

        torch.set_num_threads(1)
        self.similarity: SiameseSimilarity = (ray.get(similarity)
                                              if isinstance(similarity, ray.ObjectRef)
                                              else similarity)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        r = self.similarity.pairs(batch["text_idx"], batch["image_idx"])
        return {**batch, "similarity": r.astype(np.float32)}
