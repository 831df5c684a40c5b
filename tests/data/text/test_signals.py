"""Texts as count signals on the word graph: sparse vectors, CSR splits, dense batches."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from finelabel.data.text.signals import (
    count_vector,
    csr_rows_to_dense,
    signals_to_csr,
)
from finelabel.data.text.vocabulary import Vocabulary

VOCAB = Vocabulary(("sea", "ship", "war", "port"), (9, 7, 5, 3))


def test_count_vector_counts_in_vocabulary_words_sorted():
    indices, counts = count_vector(["war", "sea", "unknown", "war", "port", "war"], VOCAB)
    np.testing.assert_array_equal(indices, [0, 2, 3])
    np.testing.assert_array_equal(counts, [1, 3, 1])
    assert indices.dtype == np.int32 and counts.dtype == np.float32


def test_count_vector_takes_the_word_to_index_dict_too():
    tokens = ["war", "sea", "unknown", "war"]
    for got, want in zip(count_vector(tokens, VOCAB.word_to_index), count_vector(tokens, VOCAB),
                         strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype


def test_count_vector_of_an_all_unknown_text_is_empty():
    indices, counts = count_vector(["nothing", "known"], VOCAB)
    assert indices.shape == counts.shape == (0,)
    assert indices.dtype == np.int32 and counts.dtype == np.float32


def _split():
    texts = [["sea", "sea", "ship"], [], ["port", "war", "port", "zzz"]]
    pairs = [count_vector(tokens, VOCAB) for tokens in texts]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_dense_batch_holds_the_counts():
    dense = csr_rows_to_dense(signals_to_csr(*_split(), num_nodes=len(VOCAB)))
    assert dense.dtype == torch.float32
    assert torch.equal(dense, torch.tensor([[2, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 2]],
                                           dtype=torch.float32))


def test_csr_holds_a_split_and_gives_dense_rows():
    matrix = signals_to_csr(*_split(), num_nodes=len(VOCAB))
    assert sp.issparse(matrix) and matrix.shape == (3, 4) and matrix.nnz == 4
    assert matrix.dtype == np.float32
    rows = csr_rows_to_dense(matrix, [2, 0, 2])
    assert rows.shape == (3, 4)
    assert torch.equal(rows[0], rows[2]) and rows[1].tolist() == [2, 1, 0, 0]
    assert torch.equal(csr_rows_to_dense(matrix)[[2, 0, 2]], rows)


def test_empty_split():
    assert signals_to_csr([], [], num_nodes=4).shape == (0, 4)


def test_bad_signals_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        signals_to_csr([np.array([1, 4])], [np.array([1.0, 1.0])], num_nodes=4)
    with pytest.raises(ValueError, match="as many counts"):
        signals_to_csr([np.array([1, 2])], [np.array([1.0])], num_nodes=4)
    with pytest.raises(ValueError, match="count arrays"):
        signals_to_csr([np.array([1])], [], num_nodes=4)
