"""Siamese similarities of row-aligned pairs, from embeddings, in numpy.

The label stage scores its sampled pairs in Ray Data tasks. The arithmetic is a few
milliseconds a block, while importing torch costs a new worker seconds; this module imports
numpy only, so a task that scores pairs starts at once. :class:`SiameseSimilarity` (torch, for
the training loop) scores row-aligned pairs through it too: one implementation of r.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairScores:
    """r(T_a, T_b) of k siamese nets' embeddings (k, n, d) under their heads (weights (k, d),
    biases (k,)); ``folds`` (n,) says which net did not train on each text.

    With out-of-fold nets r is the mean of the scores of the nets that held out T_a and T_b
    (the one net that saw neither when they share a fold); with one net, its score.
    """

    embeddings: np.ndarray  # (k, n, d) float32
    weights: np.ndarray  # (k, d): the head's w of s = w . (u * v) + b
    biases: np.ndarray  # (k,)
    folds: np.ndarray  # (n,) int

    def __call__(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """(N,) float64 r of pairs of item ids ``left`` (N,), ``right`` (N,)."""
        left, right = np.asarray(left), np.asarray(right)
        out = np.zeros(len(left), dtype=np.float64)
        for net in range(len(self.weights)):
            share = 0.5 * ((self.folds[left] == net).astype(np.float64)
                           + (self.folds[right] == net))  # (N,) in {0, 0.5, 1}
            rows = np.flatnonzero(share)
            if rows.size:
                u = self.embeddings[net, left[rows]] * self.weights[net]  # (n_rows, d)
                v = self.embeddings[net, right[rows]]  # (n_rows, d)
                scores = np.einsum("nd,nd->n", u, v, dtype=np.float64) + self.biases[net]
                out[rows] += share[rows] * scores
        return out


def with_similarity(batch: dict[str, np.ndarray], *, scores) -> dict[str, np.ndarray]:
    """A Ray Data batch of pairs (``text_idx``, ``image_idx``, ...) plus ``similarity``.

    ``scores`` is a :class:`PairScores`, or a Ray object reference to one: the embeddings are
    then put in the object store once and every task reads them there without a copy.
    """
    if not isinstance(scores, PairScores):
        import ray

        scores = ray.get(scores)
    r = scores(batch["text_idx"], batch["image_idx"])
    return {**batch, "similarity": r.astype(np.float32)}
