"""What the label stage needs of trained siamese checkpoints: the text embedder (a callable
class for a Ray Data actor pool, or for this process) and the score head alone.

Each embedder loads its nets once. Texts are embedded once each; pairs are then scored from the
embeddings by the heads alone (:mod:`finelabel.train.pair_scores`), so a text shared by many
pairs is never encoded twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from finelabel.data.prepared import PreparedData
from finelabel.models import ScoreHead
from finelabel.storage import fetch, is_remote, local_path
from finelabel.train.checkpoint import MODEL_FILE, load_model, load_tensors, read_meta


class TextEmbedder:
    """``{"item_id"}`` -> ``{"item_id", "embedding" (B, k, d)}`` with the text encoders of
    the k siamese nets (one, or one per fold), each loaded once per actor."""

    def __init__(self, checkpoint_dirs: list[str], prepared_dir: str,  # paths or storage URIs
                 threads: int | None = 1) -> None:
        if threads is not None:  # one actor per core: intra-op threads would oversubscribe
            torch.set_num_threads(threads)
        self.data = PreparedData.load(prepared_dir)
        for location in checkpoint_dirs:  # an actor on another node fetches its own copy
            if is_remote(location):
                fetch(location)
        self.models = [load_model(local_path(location), self.data, task="siamese")
                       for location in checkpoint_dirs]

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
