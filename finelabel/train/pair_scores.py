"""Siamese similarities of row-aligned pairs, from embeddings, in numpy.

The label stage scores its sampled pairs in Ray Data tasks. The arithmetic is a few
milliseconds a block, while importing torch costs a new worker seconds; this module imports
numpy only, so a task that scores pairs starts at once. :class:`PairScores` is the one
description of r: the driver scores it with a faster torch kernel
(:mod:`finelabel.train.sampled_scores`), tested against this one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Pairs per scoring block: two (ROWS, d) float32 gathers stay in cache. Gathering a whole
#: 65,536-pair batch at once cost 1.35x as long (d = 1024: 268 MB temporaries each).
ROWS = 2048


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
        """(N,) float64 r of pairs of item ids ``left`` (N,), ``right`` (N,), scored in
        blocks of :data:`ROWS` pairs."""
        left, right = np.asarray(left), np.asarray(right)
        out = np.zeros(len(left), dtype=np.float64)
        for start in range(0, len(left), ROWS):
            self._score_block(left, right, out, start)
        return out

    def share(self, net: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """(N,) weight of ``net``'s score in each pair's r, in {0, 0.5, 1}: half for each of
        the pair's texts the net held out."""
        return 0.5 * ((self.folds[left] == net).astype(np.float64) + (self.folds[right] == net))

    def _score_block(self, left: np.ndarray, right: np.ndarray, out: np.ndarray,
                     start: int) -> None:
        """Add the r of pairs ``start : start + ROWS`` to ``out``."""
        block = slice(start, start + ROWS)
        left, right = left[block], right[block]
        for net in range(len(self.weights)):
            share = self.share(net, left, right)
            rows = np.flatnonzero(share)
            if rows.size:
                u = self.embeddings[net, left[rows]] * self.weights[net]  # (n_rows, d)
                v = self.embeddings[net, right[rows]]  # (n_rows, d)
                scores = np.einsum("nd,nd->n", u, v, dtype=np.float64) + self.biases[net]
                out[start + rows] += share[rows] * scores


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
