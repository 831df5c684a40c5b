"""Siamese similarities and hardness labels of any pair of training items, from a label model.

Sampled pairs get their labels in the label stage; a batch of B items for in-batch training has
B * B pairs, too many to list beforehand. So the label stage leaves what makes any pair's label
instead, the label model: the siamese embedding of every training text (per net), the siamese
score heads, which net did not train on each text, and the fitted bins. A pair (T_i, I_j) gets
r(T_i, T_j), T_j being the text of image j's item, and the bins turn r into l, the same way for
sampled and in-batch pairs.
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
from finelabel.train.pair_scores import PairScores
from finelabel.train.sampled_scores import sampled_pair_scores

EMBEDDINGS, HEAD, BINS, FOLDS = "embeddings.npy", "head.pt", "bins.json", "folds.npy"


@dataclass
class SiameseSimilarity:
    """r(T_a, T_b) for any two embedded texts.

    One net (``folds`` all 0): r is its score. Out-of-fold nets (net f trained on every fold
    but f): r(T_a, T_b) is the mean of the scores of net f(a) and net f(b). Each of the two
    never saw one of the texts; when both texts share a fold, neither net saw them.
    """

    embeddings: torch.Tensor  # (k, n_items, d): net f's embedding of every text
    heads: list[ScoreHead]  # k score heads, in eval mode
    folds: np.ndarray  # (n_items,) the net that did not train on each item

    def __post_init__(self) -> None:
        if self.embeddings.dim() != 3 or len(self.heads) != self.embeddings.shape[0]:
            raise ValueError(f"need (k, n, d) embeddings and k heads; got "
                             f"{tuple(self.embeddings.shape)} and {len(self.heads)} heads")

    @property
    def nets(self) -> int:
        return len(self.heads)

    @torch.no_grad()
    def pair_scores(self) -> PairScores:
        """The same similarity as plain arrays, for scoring pairs without torch."""
        return PairScores(self.embeddings.numpy(),
                          np.stack([head.fc.weight[0].numpy() for head in self.heads]),
                          np.array([float(head.fc.bias[0]) for head in self.heads]),
                          np.asarray(self.folds))

    def pairs(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """(N,) r of row-aligned pairs of item ids ``left`` (N,), ``right`` (N,), in one
        sampled matrix product per net (:mod:`finelabel.train.sampled_scores`)."""
        return sampled_pair_scores(self.pair_scores(), left, right)

    @torch.no_grad()
    def matrix(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """(B, M) r of every text of ``left`` (B,) with every text of ``right`` (M,)."""
        left, right = np.asarray(left), np.asarray(right)
        out = np.zeros((len(left), len(right)), dtype=np.float64)
        for net in range(self.nets):
            weight = 0.5 * ((self.folds[left] == net)[:, None].astype(np.float64)
                            + (self.folds[right] == net)[None, :])  # (B, M)
            if weight.any():
                scores = self.heads[net].score_matrix(self.embeddings[net, left],
                                                      self.embeddings[net, right])  # (B, M)
                out += weight * scores.double().numpy()
        return out


def save_label_model(path: str | Path, embeddings: np.ndarray, heads: list[ScoreHead],
                     folds: np.ndarray, bins: HardnessBins) -> Path:
    """Write the label model: embeddings (k, n_items, d), k heads, folds (n_items,), bins."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    np.save(path / EMBEDDINGS, embeddings.astype(np.float32))
    np.save(path / FOLDS, np.asarray(folds, dtype=np.int64))
    torch.save({"states": [head.state_dict() for head in heads],
                "embed_dim": int(embeddings.shape[-1])}, path / HEAD)
    (path / BINS).write_text(json.dumps(bins.to_dict()), encoding="utf-8")
    return path


def load_similarity(path: str | Path) -> SiameseSimilarity:
    """The similarity part of the label model in ``path``."""
    from finelabel.train.checkpoint import load_tensors  # no cycle: checkpoint needs models

    path = Path(path)
    if not (path / BINS).is_file():
        raise FinelabelError(f"{path}: no label model; run the label stage (it writes one "
                             "for train.pairing=in_batch)")
    saved = load_tensors(path / HEAD)
    heads = []
    for state in saved["states"]:
        head = ScoreHead(saved["embed_dim"], dropout=0.0)
        head.load_state_dict(state)
        heads.append(head.eval())
    return SiameseSimilarity(torch.from_numpy(np.load(path / EMBEDDINGS)), heads,
                             np.load(path / FOLDS))


@dataclass
class InBatchHardness:
    """(B, B) hardness labels of every (text i, image j) pair of a batch of items."""

    similarity: SiameseSimilarity
    bins: HardnessBins
    #: Permute the labels within each polarity of every batch (the shuffled control).
    shuffle: np.random.Generator | None = None

    @classmethod
    def load(cls, path: str | Path, *, shuffle_seed: int | None = None) -> InBatchHardness:
        similarity = load_similarity(path)
        bins = HardnessBins.from_dict(json.loads((Path(path) / BINS).read_text(encoding="utf-8")))
        rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
        return cls(similarity, bins, rng)

    def matrix(self, text_ids: np.ndarray, image_ids: np.ndarray,
               positive: np.ndarray) -> np.ndarray:
        """Labels (B, B) for texts ``text_ids`` (B,) against the images of ``image_ids`` (B,);
        ``positive`` (B, B) says which pairs share a category."""
        r = self.similarity.matrix(text_ids, image_ids)
        flat_positive = positive.reshape(-1)
        labels = self.bins.labels(r.reshape(-1), flat_positive)
        if self.shuffle is not None:
            labels = shuffle_within_polarity(labels, flat_positive, self.shuffle)
        return labels.reshape(positive.shape)
