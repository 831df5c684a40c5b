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
from finelabel.data.word_graph import load_graph
from finelabel.errors import FinelabelError

SPLITS = ("train", "val", "test")


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
        root = Path(out_dir).resolve()
        manifest = read_manifest(root)
        items_dir = root / "items"
        if not items_dir.is_dir():
            raise FinelabelError(f"{items_dir}: no item shards; rerun `finelabel prepare`")
        table = pq.read_table(items_dir, columns=["item_id", "label", "split", "word_idx",
                                                   "word_count", "image_feature"])
        table = table.sort_by("item_id")
        edge_index, num_nodes = load_graph(root / "graph.npz")
        return cls(root, manifest, table["label"].to_numpy().astype(np.int64),
                   np.asarray(table["split"].to_pylist()),
                   _csr(table, num_nodes), _dense(table["image_feature"]), edge_index, num_nodes)

    def indices(self, split: str) -> np.ndarray:
        """Item ids of one split, in order."""
        if split not in SPLITS:
            raise FinelabelError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return np.flatnonzero(self.splits == split)

    @property
    def image_dim(self) -> int:
        return int(self.image_features.shape[1])

    def texts(self, item_ids: np.ndarray) -> torch.Tensor:
        """(B, |V|) dense word-count signals of the given items."""
        return torch.from_numpy(self.text_signals[np.asarray(item_ids)].toarray())

    def images(self, item_ids: np.ndarray) -> torch.Tensor:
        """(B, D) image features of the given items."""
        return torch.from_numpy(self.image_features[np.asarray(item_ids)])


def _csr(table, num_nodes: int) -> sp.csr_matrix:
    lengths = pc.list_value_length(table["word_idx"]).to_numpy(zero_copy_only=False)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = pc.list_flatten(table["word_idx"]).to_numpy().astype(np.int32)
    data = pc.list_flatten(table["word_count"]).to_numpy().astype(np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(table.num_rows, num_nodes))


def _dense(column) -> np.ndarray:
    values = pc.list_flatten(column).to_numpy().astype(np.float32)
    return values.reshape(len(column), -1)  # (n, D)
