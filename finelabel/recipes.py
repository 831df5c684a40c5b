"""Named recipes: sets of config values a run starts from, before its file and ``--set``.

- ``paper``: the settings of DESIGN.md and the group's code (the dataclass defaults): the
  learned score head on raw counts, 40,000 sampled pairs, Adam at 1e-4 for 50 epochs.
- ``finelabel`` (the default): what the project found works better on English Wikipedia (see
  the README's results): category posteriors as the score, every pair of a batch, a light
  label-space term, image dropout, a larger learning rate with early stopping.

A config file picks one with a top-level ``recipe:`` key (or ``--set recipe=paper``).
"""

from __future__ import annotations

from typing import Any

DEFAULT_RECIPE = "finelabel"

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {},
    "finelabel": {
        "model": {"score": "label", "text_signal": "counts", "image_dropout": 0.5},
        "loss": {"label_weight": 1.0},
        "train": {"pairing": "in_batch", "lr": 1e-3, "lr_decay": 0.9, "epochs": 40,
                  "patience": 10},
        "siamese": {"pairing": "in_batch", "lr": 1e-3, "epochs": 20, "patience": 5},
    },
}


def with_recipe(tree: dict[str, Any], name: str) -> dict[str, Any]:
    """``tree`` on top of recipe ``name``'s values (the tree's own values win)."""
    from finelabel.resolver import resolve

    base = resolve(name, RECIPES, "recipe")
    merged: dict[str, Any] = {section: dict(values) for section, values in base.items()}
    for key, value in tree.items():
        if value is None and isinstance(merged.get(key), dict):
            continue  # an empty section (every key commented out) keeps the recipe's values
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    merged["recipe"] = name
    return merged
