"""The pairs stage: training pairs for the siamese net and for the dual-path model.

Both come from the training split only (never validation or test), 1:1 positive to negative,
seeded, written once as Parquet with Ray Data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from finelabel.config import Config
from finelabel.data.pairs import sample_pairs
from finelabel.data.prepared import PreparedData

PAIRS_DIR = "pairs"


def pairs_path(out_dir: Path, kind: str) -> Path:
    """``kind`` is ``siamese`` (text-text) or ``train`` (text-image)."""
    return Path(out_dir) / PAIRS_DIR / kind


def sampled_pairs(data: PreparedData, n_pairs: int, *, seed: int, same_set: bool) -> pd.DataFrame:
    """Pairs over training items as item ids: ``text_idx``, ``image_idx``, ``positive``."""
    train = data.indices("train")
    labels = data.labels[train]
    pairs = sample_pairs(labels, labels, n_pairs, seed=seed, same_set=same_set)
    return pd.DataFrame({"text_idx": train[pairs["text_idx"]],
                         "image_idx": train[pairs["image_idx"]],
                         "positive": pairs["positive"]})


def write_pairs(pairs, path: Path) -> None:
    """Write a Ray dataset (or a DataFrame) of pairs to ``path`` through a temporary folder."""
    import ray.data

    if isinstance(pairs, pd.DataFrame):
        pairs = ray.data.from_pandas(pairs)
    tmp = path.with_name(path.name + ".tmp")
    _remove(tmp)
    pairs.write_parquet(str(tmp), min_rows_per_file=1 << 16)
    _remove(path)
    tmp.replace(path)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def make_pairs(config: Config, out_dir: str | Path) -> dict[str, int]:
    """Write ``pairs/siamese`` and ``pairs/train``; return their sizes."""
    out = Path(out_dir)
    data = PreparedData.load(out)
    siamese = sampled_pairs(data, config.pairs.siamese_pairs, seed=config.pairs.seed,
                            same_set=True)
    train = sampled_pairs(data, config.pairs.n_pairs, seed=config.pairs.seed + 1, same_set=False)
    write_pairs(siamese, pairs_path(out, "siamese"))
    write_pairs(train, pairs_path(out, "train"))
    return {"siamese_pairs": len(siamese), "train_pairs": len(train),
            "train_positive": int(train["positive"].sum())}
