"""Texts as signals on the word graph: x_i = how often vocabulary word i occurs in the text.

A text is stored sparsely as (indices, counts); a split is one CSR matrix (texts x |V|); a batch
becomes a dense (B, |V|) tensor only when it enters the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
import torch

from finelabel.data.text.vocabulary import Vocabulary
from finelabel.typing import TextSignals


def count_vector(tokens: Sequence[str], vocab: Vocabulary | Mapping[str, int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, counts)``: sorted int32 node numbers of the words present, float32 counts.

    ``vocab`` is a :class:`Vocabulary` or its ``word_to_index`` dict (lighter to ship to Ray
    workers). Out-of-vocabulary tokens are ignored.
    """
    if isinstance(vocab, Vocabulary):
        nodes = vocab.indices(tokens)
    else:
        nodes = np.asarray([vocab[t] for t in tokens if t in vocab], dtype=np.int64)
    indices, counts = np.unique(nodes, return_counts=True)
    return indices.astype(np.int32), counts.astype(np.float32)


def signals_to_csr(indices_list: Sequence[np.ndarray], counts_list: Sequence[np.ndarray],
                   num_nodes: int) -> sp.csr_matrix:
    """(B, num_nodes) float32 CSR matrix, row b holding text b's counts."""
    if len(indices_list) != len(counts_list):
        raise ValueError(f"{len(indices_list)} index arrays but {len(counts_list)} count arrays")
    lengths = np.fromiter((len(i) for i in indices_list), dtype=np.int64, count=len(indices_list))
    return csr_from_flat(lengths, _concat(indices_list, np.int32), _concat(counts_list, np.float32),
                         num_nodes)


def csr_from_flat(lengths: np.ndarray, indices: np.ndarray, counts: np.ndarray,
                  num_nodes: int) -> sp.csr_matrix:
    """(B, num_nodes) CSR matrix of B texts given flat: text b owns ``lengths[b]`` entries of
    ``indices`` (word numbers) and ``counts``, in order (as Parquet list columns store them)."""
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.asarray(indices, dtype=np.int32)
    data = np.asarray(counts, dtype=np.float32)
    if data.shape != indices.shape or indptr[-1] != indices.size:
        raise ValueError("each text needs as many counts as indices")
    if indices.size and not 0 <= indices.min() <= indices.max() < num_nodes:
        raise ValueError(f"word indices must lie in [0, {num_nodes})")
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(lengths), num_nodes))
    matrix.sum_duplicates()
    return matrix


def _concat(arrays: Sequence[np.ndarray], dtype: type) -> np.ndarray:
    if not len(arrays):
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays])


def csr_rows_to_dense(matrix: sp.csr_matrix, rows: Sequence[int] | np.ndarray | None = None
                      ) -> TextSignals:
    """(len(rows), N) float32 tensor of the chosen rows of a split's CSR matrix (all if None)."""
    picked = matrix if rows is None else matrix[np.asarray(rows, dtype=np.int64)]
    return torch.from_numpy(picked.toarray().astype(np.float32, copy=False))
