"""Hardness labels of every pair in a batch of items, for in-batch training.

Sampled pairs carry their label from the label stage. A batch of B items has B * B pairs, too
many to list beforehand, so the label stage leaves what makes their labels instead: the siamese
embedding of every training text, the siamese score head, and the bins it fitted. A pair
(T_i, I_j) gets r(T_i, T_j), T_j being the text of image j's item, and the bins turn r into l,
exactly as for sampled pairs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from finelabel.errors import FinelabelError
from finelabel.labels import HardnessBins, shuffle_within_polarity
from finelabel.models import ScoreHead

EMBEDDINGS, HEAD, BINS = "embeddings.npy", "head.pt", "bins.json"


def save_label_model(path: str | Path, embeddings: np.ndarray, head: ScoreHead,
                     bins: HardnessBins) -> Path:
    """Write the label model: embeddings (n_items, d), the head's weights, the bins."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / EMBEDDINGS, embeddings.astype(np.float32))
    torch.save({"state": head.state_dict(), "embed_dim": int(embeddings.shape[1])}, path / HEAD)
    (path / BINS).write_text(json.dumps(bins.to_dict()), encoding="utf-8")
    return path


@dataclass
class InBatchHardness:
    """(B, B) hardness labels of every (text i, image j) pair of a batch of items."""

    embeddings: torch.Tensor  # (n_items, d) siamese embeddings
    head: ScoreHead
    bins: HardnessBins
    #: Permute the labels within each polarity of every batch (the shuffled control).
    shuffle: np.random.Generator | None = None

    @classmethod
    def load(cls, path: str | Path, *, shuffle_seed: int | None = None) -> InBatchHardness:
        from finelabel.train.checkpoint import load_tensors  # no cycle: checkpoint needs models

        path = Path(path)
        if not (path / BINS).is_file():
            raise FinelabelError(f"{path}: no label model; run the label stage (it writes one "
                                 "for train.pairing=in_batch)")
        saved = load_tensors(path / HEAD)
        head = ScoreHead(saved["embed_dim"], dropout=0.0)
        head.load_state_dict(saved["state"])
        bins = HardnessBins.from_dict(json.loads((path / BINS).read_text(encoding="utf-8")))
        rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        return cls(torch.from_numpy(np.load(path / EMBEDDINGS)), head.eval(), bins, rng)

    @torch.no_grad()
    def matrix(self, text_ids: np.ndarray, image_ids: np.ndarray,
               positive: np.ndarray) -> np.ndarray:
        """Labels (B, B) for texts ``text_ids`` (B,) against the images of ``image_ids`` (B,);
        ``positive`` (B, B) says which pairs share a category."""
        r = self.head.score_matrix(self.embeddings[text_ids], self.embeddings[image_ids])
        flat_positive = positive.reshape(-1)
        labels = self.bins.labels(r.numpy().reshape(-1), flat_positive)
        if self.shuffle is not None:
            labels = shuffle_within_polarity(labels, flat_positive, self.shuffle)
        return labels.reshape(positive.shape)
