"""The word graph: a symmetric, unweighted k-nearest-neighbour graph over the word vectors.

Edge (i, j) exists when j is among the k most cosine-similar words of i, or i among those of j.
Both directions are stored, sorted by (source, target), without self loops or duplicates, as the
(2, E) ``edge_index`` PyTorch Geometric expects.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import torch

from finelabel.errors import DataError
from finelabel.typing import EdgeIndex

# Similarity rows computed at once: block_rows * num_nodes floats stay near 64 MiB.
_BLOCK_FLOATS = 1 << 24


def knn_graph(vectors: np.ndarray | torch.Tensor, k: int = 8) -> EdgeIndex:
    """(2, E) int64 symmetric k-NN graph of the (N, d) ``vectors`` by cosine similarity.

    Every node gets its k nearest other nodes (all N - 1 when N <= k), so its degree is >= k.
    Ties at the k-th place go to the lower node number, which makes the graph deterministic;
    zero vectors have similarity 0 to everything. Rows are processed in blocks, so memory
    grows with N (one block of N similarities), not with N^2.
    """
    x = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
    num_nodes = x.shape[0]
    k = min(k, num_nodes - 1)
    if k < 1:
        return torch.zeros((2, 0), dtype=torch.long)
    x = x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)  # zero rows stay zero
    block = max(1, _BLOCK_FLOATS // num_nodes)
    targets = torch.cat([_block_neighbours(x, start, block, k)
                         for start in range(0, num_nodes, block)])
    sources = torch.arange(num_nodes).repeat_interleave(k)
    return _symmetrise(sources, targets.reshape(-1), num_nodes)


def _block_neighbours(x: torch.Tensor, start: int, block: int, k: int) -> torch.Tensor:
    """(rows, k) nearest neighbours of rows ``start:start+block``, self excluded."""
    sims = x[start:start + block] @ x.T  # (rows, N)
    rows = torch.arange(sims.shape[0])
    sims[rows, rows + start] = -torch.inf
    values, neighbours = sims.topk(k + 1, dim=1)  # k + 1 <= N: self is the spare at worst
    tied = values[:, k] == values[:, k - 1]  # the k-th place is shared: topk chose arbitrarily
    neighbours = neighbours[:, :k]
    for row in tied.nonzero().flatten().tolist():
        order = torch.from_numpy(np.argsort(-sims[row].numpy(), kind="stable"))
        neighbours[row] = order[:k]
    return neighbours


def _symmetrise(sources: torch.Tensor, targets: torch.Tensor, num_nodes: int) -> EdgeIndex:
    """Both directions of every edge, deduplicated and sorted by (source, target)."""
    src = torch.cat([sources, targets])
    dst = torch.cat([targets, sources])
    keys = torch.unique(src * num_nodes + dst)  # sorted
    return torch.stack([keys // num_nodes, keys % num_nodes])


def graph_stats(edge_index: EdgeIndex, num_nodes: int) -> dict[str, int | float | bool]:
    """Summary for the manifest.

    ``edges`` counts undirected edges (distinct node pairs, self loops excluded), so a
    symmetric ``edge_index`` has ``2 * edges`` columns; degrees count a node's out-edges.
    """
    src, dst = edge_index[0].long(), edge_index[1].long()
    keys = torch.unique(src * num_nodes + dst)
    reverse = torch.unique(dst * num_nodes + src)
    loop_free = src != dst
    low = torch.minimum(src, dst)[loop_free]
    high = torch.maximum(src, dst)[loop_free]
    pairs = torch.unique(low * num_nodes + high)
    degree = torch.bincount(src, minlength=num_nodes)
    return {
        "nodes": int(num_nodes),
        "edges": int(pairs.numel()),
        "min_degree": int(degree.min()) if num_nodes else 0,
        "max_degree": int(degree.max()) if num_nodes else 0,
        "mean_degree": round(float(degree.float().mean()), 3) if num_nodes else 0.0,
        "symmetric": bool(torch.equal(keys, reverse)),
    }


def save_graph(path: str | Path, edge_index: EdgeIndex, num_nodes: int) -> None:
    """Write an .npz with ``edge_index`` (2, E) int64 and ``num_nodes``.

    The zip entries carry a fixed timestamp, so equal graphs give byte-identical files (and equal
    hashes in the manifest).
    """
    arrays = {"edge_index": np.asarray(edge_index, dtype=np.int64),
              "num_nodes": np.asarray(num_nodes, dtype=np.int64)}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED)


def load_graph(path: str | Path) -> tuple[EdgeIndex, int]:
    """Read a graph written by :func:`save_graph`: ``(edge_index, num_nodes)``."""
    path = Path(path)
    if not path.is_file():
        raise DataError("word-graph file not found", path=path, reason="missing_file",
                        hint="Run the prepare stage first", record_level=False)
    try:
        with np.load(path, allow_pickle=False) as data:
            edge_index, num_nodes = data["edge_index"], int(data["num_nodes"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"not a word-graph file ({error})", path=path, reason="malformed",
                        hint="Rebuild it with the prepare stage", record_level=False) from None
    if edge_index.ndim != 2 or edge_index.shape[0] != 2 or (
            edge_index.size and not 0 <= edge_index.min() <= edge_index.max() < num_nodes):
        raise DataError(f"edge_index of shape {edge_index.shape} does not fit {num_nodes} nodes",
                        path=path, reason="malformed", record_level=False)
    return torch.from_numpy(edge_index.astype(np.int64)), num_nodes
