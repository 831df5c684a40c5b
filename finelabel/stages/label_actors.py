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


class TextEmbedder:
    """``{"item_id"}`` -> ``{"item_id", "embedding" (B, d)}`` with the siamese text encoder."""

    def __init__(self, checkpoint_dir: str, prepared_dir: str) -> None:
        torch.set_num_threads(1)  # one actor per core: intra-op threads would oversubscribe
        self.data = PreparedData.load(prepared_dir)
        self.model = load_model(checkpoint_dir, self.data, task="siamese")

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = batch["item_id"]
        return {"item_id": ids, "embedding": self.model.embed(self.data.texts(ids)).numpy()}


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

    def __init__(self, checkpoint_dir: str, embeddings) -> None:
        import ray

        torch.set_num_threads(1)
        if isinstance(embeddings, ray.ObjectRef):
            embeddings = ray.get(embeddings)
        # Ray hands out a read-only view of the object store; one private copy per actor keeps
        # torch from warning about (never happening) writes to it.
        self.embeddings = torch.from_numpy(np.array(embeddings, copy=True))  # (n_items, d)
        self.head = load_head(checkpoint_dir)

    @torch.no_grad()
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # Ray hands batches out read-only; the ids are copied (a few ints) for torch.
        left = self.embeddings[torch.tensor(batch["text_idx"])]  # (B, d)
        right = self.embeddings[torch.tensor(batch["image_idx"])]  # (B, d)
        return {**batch, "similarity": self.head(left, right).numpy().astype(np.float32)}
