"""The validation split, carved from the training split, stratified by category and seeded.

Models are selected on it, never on the test split (DESIGN.md, evaluation).
"""

from __future__ import annotations

import numpy as np


def carve_validation(labels: np.ndarray, fraction: float, seed: int = 0) -> np.ndarray:
    """Return a bool mask over ``labels`` (training items) marking the validation items.

    Each category gives ``round(fraction * size)`` items, at least one when it has two or more,
    so every category is seen in both parts.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        take = int(round(fraction * len(members)))
        if len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)
        else:
            take = 0
        mask[rng.choice(members, size=take, replace=False)] = True
    return mask


def assign_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """(n,) fold of each item of ``labels`` (training items), stratified by category.

    Out-of-fold labelling trains one siamese net per fold on the other folds, so that a
    pair's label comes from a net that did not learn its texts by heart. Each category is
    dealt round-robin over the folds in a seeded order, so the folds differ in size by at
    most one item per category.
    """
    labels = np.asarray(labels)
    if folds < 1:
        raise ValueError(f"folds must be >= 1, got {folds}")
    rng = np.random.default_rng(seed)
    out = np.zeros(len(labels), dtype=np.int64)
    start = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        out[members] = (start + np.arange(len(members))) % folds
        start += len(members)  # the next category continues where this one stopped
    return out
