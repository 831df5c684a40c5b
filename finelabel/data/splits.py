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
