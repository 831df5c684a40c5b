"""A prepared dataset loaded for training and evaluation: items in memory, one word graph.

Items are small (sparse word counts + one feature vector), so every worker holds all of them and
pairs refer to items by ``item_id``; only the pair lists are sharded by Ray Data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import scipy.sparse as sp
import torch

from finelabel.data.manifest import read_manifest
from finelabel.data.text.signals import csr_from_flat, csr_rows_to_dense
from finelabel.data.text.word_graph import load_graph
from finelabel.errors import FinelabelError
from finelabel.run_folder import RunFolder

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ItemSplits:
    """Each item's category and split, by ``item_id``: all that sampling pairs and assigning
    folds need, read without the word counts and features (at 200k items, 0.3 s instead of
    several)."""

    labels: np.ndarray  # (n,) int64 category index
    splits: np.ndarray  # (n,) str in SPLITS

    @classmethod
    def load(cls, out_dir: str | Path) -> ItemSplits:
        folder = RunFolder.at(out_dir)
        folder.fetch(folder.items)
        table = pq.read_table(_items_dir(folder), columns=["item_id", "label", "split"])
        table = table.sort_by("item_id")
        return cls(table["label"].to_numpy().astype(np.int64),
                   table["split"].to_numpy(zero_copy_only=False).astype(str))

    def indices(self, split: str) -> np.ndarray:
        """Item ids of one split, in order."""
        if split not in SPLITS:
            raise FinelabelError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return np.flatnonzero(self.splits == split)

    def folds(self, folds: int, seed: int) -> np.ndarray:
        """(n,) the fold of every training item (:func:`assign_folds`); other items get 0."""
        from finelabel.data.splits import assign_folds

        train = self.indices("train")
        out = np.zeros(len(self.labels), dtype=np.int64)
        out[train] = assign_folds(self.labels[train], folds, seed)
        return out


@dataclass
class PreparedData:
    """Items sorted by ``item_id``; ``text_signals`` row i is item i's word-count signal."""

    root: Path
    manifest: dict[str, Any]
    labels: np.ndarray  # (n,) int64 category index
    splits: np.ndarray  # (n,) str in SPLITS
    text_signals: sp.csr_matrix  # (n, |V|) float32
    image_features: np.ndarray  # (n, D) float32
    edge_index: torch.Tensor  # (2, E)
    num_nodes: int

    @classmethod
    def load(cls, out_dir: str | Path) -> PreparedData:
        """Load the run folder at a path or a storage URI (a worker on another node fetches
        the prepared files into its own copy first)."""
        folder = RunFolder.at(out_dir)
        for part in (folder.manifest, folder.items, folder.graph):
            folder.fetch(part)
        manifest = read_manifest(folder.manifest)
        columns = ["item_id", "label", "split", "word_idx", "word_count", "image_feature"]
        table = pq.read_table(_items_dir(folder), columns=columns)
        table = table.sort_by("item_id")
        edge_index, num_nodes = load_graph(folder.graph)
        return cls(folder.root, manifest, table["label"].to_numpy().astype(np.int64),
                   np.asarray(table["split"].to_pylist()),
                   _csr(table, num_nodes), _dense(table["image_feature"]), edge_index, num_nodes)

    @property
    def item_splits(self) -> ItemSplits:
        return ItemSplits(self.labels, self.splits)

    def indices(self, split: str) -> np.ndarray:
        """Item ids of one split, in order."""
        return self.item_splits.indices(split)

    @property
    def num_classes(self) -> int:
        return len(self.manifest["categories"])

    @property
    def image_dim(self) -> int:
        return int(self.image_features.shape[1])

    def folds(self, folds: int, seed: int) -> np.ndarray:
        """(n,) the fold of every training item (:meth:`ItemSplits.folds`)."""
        return self.item_splits.folds(folds, seed)

    def texts(self, item_ids: np.ndarray) -> torch.Tensor:
        """(B, |V|) dense word-count signals of the given items."""
        return csr_rows_to_dense(self.text_signals, item_ids)

    def images(self, item_ids: np.ndarray) -> torch.Tensor:
        """(B, D) image features of the given items."""
        return torch.from_numpy(self.image_features[np.asarray(item_ids)])


def _items_dir(folder: RunFolder) -> Path:
    if not folder.items.is_dir():
        raise FinelabelError(f"{folder.items}: no item shards; rerun `finelabel prepare`")
    return folder.items


def _csr(table, num_nodes: int) -> sp.csr_matrix:
    lengths = pc.list_value_length(table["word_idx"]).to_numpy(zero_copy_only=False)
    return csr_from_flat(lengths, pc.list_flatten(table["word_idx"]).to_numpy(),
                         pc.list_flatten(table["word_count"]).to_numpy(), num_nodes)


def _dense(column) -> np.ndarray:
    values = pc.list_flatten(column).to_numpy().astype(np.float32)
    return values.reshape(len(column), -1)  # (n, D)
