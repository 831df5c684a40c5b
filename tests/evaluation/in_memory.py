"""A prepared dataset built in memory (no prepare stage, no Ray): fast enough for mutation
testing, where every mutant reruns the tests that reach it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from finelabel.data.prepared import PreparedData

CLASSES, VOCAB, DIM = 3, 30, 16


def separable(per_class: dict[str, int], seed: int = 0, *, topic_words: int = 4,
              image_noise: float = 1.0) -> PreparedData:
    """Each category has its own ten words and image centroid; a text draws ``topic_words`` of
    its category's words and one stray word, an image its centroid plus noise."""
    rng = np.random.default_rng(seed)
    labels, splits = [], []
    for split, count in per_class.items():
        for c in range(CLASSES):
            labels += [c] * count
            splits += [split] * count
    labels = np.asarray(labels)
    counts = np.zeros((len(labels), VOCAB), dtype=np.float32)
    for row, c in enumerate(labels):
        counts[row, rng.choice(np.arange(10 * c, 10 * c + 10), topic_words)] += 1
        counts[row, rng.integers(VOCAB)] += 1  # one stray word
    centroids = rng.normal(0, 3, (CLASSES, DIM))
    image = (centroids[labels] + rng.normal(0, image_noise, (len(labels), DIM)))
    image = image.astype(np.float32)
    ring = torch.arange(VOCAB)
    edges = torch.stack([torch.cat([ring, (ring + 1) % VOCAB]),
                         torch.cat([(ring + 1) % VOCAB, ring])])  # each word next to two
    return PreparedData(Path("."), {"categories": [str(c) for c in range(CLASSES)]}, labels,
                        np.asarray(splits), sp.csr_matrix(counts), image, edges, VOCAB)
