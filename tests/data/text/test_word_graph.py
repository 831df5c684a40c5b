"""The k-NN word graph: known neighbours, symmetry, degrees, ties, blocks, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from finelabel.data.text import word_graph
from finelabel.data.text.word_graph import graph_stats, knn_graph, load_graph, save_graph
from finelabel.errors import DataError


def _angles(*degrees: float, norms=None) -> np.ndarray:
    radians = np.deg2rad(degrees)
    norms = np.ones(len(degrees)) if norms is None else np.asarray(norms)
    unit = np.stack([np.cos(radians), np.sin(radians)], axis=1)  # (n, 2)
    return (unit * norms[:, None]).astype(np.float32)


def _pairs(edge_index: torch.Tensor) -> set[tuple[int, int]]:
    return set(map(tuple, edge_index.T.tolist()))


def _naive(vectors: np.ndarray, k: int) -> set[tuple[int, int]]:
    """O(N^2) reference: stable sort of every row's cosine similarities."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1, norms)
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    edges = set()
    for i, row in enumerate(sims):
        for j in np.argsort(-row, kind="stable")[:k]:
            edges |= {(i, int(j)), (int(j), i)}
    return edges


def test_known_neighbours_on_a_circle_use_either_direction():
    # k = 1: 0->1, 1->0, 2->1, 3->2; node 3 is nobody's nearest but keeps its own edge.
    vectors = _angles(0, 10, 25, 70, norms=[1, 5, 0.2, 3])  # cosine ignores the norms
    edge_index = knn_graph(vectors, k=1)
    assert _pairs(edge_index) == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2)}


def test_edge_index_is_sorted_int64_symmetric_and_loop_free():
    vectors = np.random.default_rng(0).normal(size=(57, 6)).astype(np.float32)
    edge_index = knn_graph(vectors, k=4)
    assert edge_index.dtype == torch.long and edge_index.shape[0] == 2
    keys = edge_index[0] * 57 + edge_index[1]
    assert torch.equal(keys, torch.unique(keys))  # sorted, no duplicates
    assert not (edge_index[0] == edge_index[1]).any()
    stats = graph_stats(edge_index, 57)
    assert stats["symmetric"] and stats["min_degree"] >= 4 and stats["nodes"] == 57
    assert stats["edges"] * 2 == edge_index.shape[1]


@pytest.mark.parametrize(("n", "k"), [(31, 3), (64, 8), (9, 8)])
def test_matches_the_naive_graph_with_small_blocks(monkeypatch, n, k):
    monkeypatch.setattr(word_graph, "_BLOCK_FLOATS", 7 * n)  # 7 rows a block, last one short
    vectors = np.random.default_rng(n).normal(size=(n, 5)).astype(np.float32)
    assert _pairs(knn_graph(vectors, k=k)) == _naive(vectors, k)


def test_zero_vectors_and_ties_are_deterministic_without_nan():
    vectors = np.zeros((6, 3), dtype=np.float32)
    vectors[3] = [1, 0, 0]
    vectors[4] = [1, 0, 0]  # an exact duplicate of node 3
    edge_index = knn_graph(vectors, k=2)
    assert _pairs(edge_index) == _naive(vectors, 2)
    assert {(0, 1), (0, 2), (5, 0), (5, 1)} <= _pairs(edge_index)  # ties -> lower numbers
    assert torch.equal(edge_index, knn_graph(vectors, k=2))


def test_small_graphs():
    assert _pairs(knn_graph(_angles(0, 90, 180), k=8)) == {
        (i, j) for i in range(3) for j in range(3) if i != j}
    assert knn_graph(_angles(0), k=8).shape == (2, 0)


def test_stats_report_an_asymmetric_edge_index():
    stats = graph_stats(torch.tensor([[0, 1, 1], [1, 0, 2]]), 4)
    assert stats == {"nodes": 4, "edges": 2, "min_degree": 0, "max_degree": 2,
                     "mean_degree": 0.75, "symmetric": False}


def test_save_load_round_trip_is_byte_stable(tmp_path):
    edge_index = knn_graph(np.random.default_rng(1).normal(size=(20, 4)), k=3)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    save_graph(first, edge_index, 20)
    save_graph(second, edge_index.clone(), 20)
    loaded, num_nodes = load_graph(first)
    assert torch.equal(loaded, edge_index) and loaded.dtype == torch.long and num_nodes == 20
    assert first.read_bytes() == second.read_bytes()


def test_load_rejects_missing_and_damaged_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_graph(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a word-graph file"):
        load_graph(junk)
    out_of_range = tmp_path / "range.npz"
    save_graph(out_of_range, torch.tensor([[0, 5], [5, 0]]), 3)
    with pytest.raises(DataError, match="does not fit 3 nodes"):
        load_graph(out_of_range)
