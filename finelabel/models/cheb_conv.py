"""Chebyshev graph convolution over one static graph shared by every sample of a batch.

PyG's :class:`~torch_geometric.nn.ChebConv` takes one graph per call: batching B texts means a
``Batch`` of B copies of the word graph, the Laplacian recomputed on every call, and scatter-based
message passing over B * E edges. Here the scaled Laplacian is computed once and kept in buffers,
and the batch rides along as extra columns of one sparse-dense matmul per Chebyshev step.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

with warnings.catch_warnings():  # torch-geometric 2.8 calls the deprecated torch.jit.script
    warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated",
                            category=FutureWarning)
    from torch_geometric.nn import ChebConv
    from torch_geometric.utils import get_laplacian

from finelabel.typing import EdgeIndex


def scaled_laplacian(
    edge_index: EdgeIndex,
    num_nodes: int,
    *,
    normalization: str = "sym",
    lambda_max: float = 2.0,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Return the operator L~ = 2 L / lambda_max - I of ChebConv as an (N, N) sparse CSR tensor.

    ``lambda_max = 2`` bounds the spectrum of the ``sym`` and ``rw`` Laplacians (PyG's default for
    them). Row i gathers from the sources of the edges that point to i (PyG's message flow), and
    duplicate edges add up, as in message passing: ``L~ @ x`` is ChebConv's ``propagate``.
    """
    if normalization not in ("sym", "rw"):
        raise ValueError(f"normalization must be 'sym' or 'rw', got {normalization!r}")
    if edge_index.numel() and int(edge_index.max()) >= num_nodes:
        raise ValueError(f"edge_index refers to node {int(edge_index.max())} but num_nodes is "
                         f"{num_nodes}: pass the vocabulary size the graph was built on")
    index, weight = get_laplacian(edge_index, None, normalization, dtype, num_nodes)
    weight = 2.0 * weight / lambda_max
    weight[index[0] == index[1]] -= 1.0
    keep = weight != 0  # the diagonal vanishes when lambda_max = 2: no work for it
    target, source = index[1, keep], index[0, keep]
    coo = torch.sparse_coo_tensor(torch.stack([target, source]), weight[keep],
                                  (num_nodes, num_nodes), check_invariants=True)
    return _coo_to_csr(coo)


def _coo_to_csr(coo: Tensor) -> Tensor:
    """CSR with int32 indices where they fit: MKL and cuSPARSE would convert int64 on every call."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it works for matmul
        warnings.simplefilter("ignore", UserWarning)
        csr = coo.coalesce().to_sparse_csr()
    if csr.values().numel() >= 2**31 - 1 or csr.shape[0] >= 2**31 - 1:
        return csr
    return _csr(csr.crow_indices().int(), csr.col_indices().int(), csr.values())


def _csr(crow: Tensor, col: Tensor, values: Tensor) -> Tensor:
    size = (crow.numel() - 1, crow.numel() - 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, size, check_invariants=False)


def _transpose_csr(matrix: Tensor) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _coo_to_csr(matrix.to_sparse_coo().t())


def _same_csr(a: Tensor, b: Tensor) -> bool:
    return (torch.equal(a.crow_indices(), b.crow_indices())
            and torch.equal(a.col_indices(), b.col_indices())
            and torch.equal(a.values(), b.values()))


class _ChebyshevFilter(torch.autograd.Function):
    """y = sum_k W_k T_k(L~) x for channel-major signals x (C, N, B) -> y (F_out, N * B).

    One autograd node for the recursion and the mixing: the forward writes every term
    T_k(L~) x straight into one basis Z (K, C, N, B) and mixes all K * C rows into F_out
    channels in one product; the backward forms each weight's gradient as a tensor of its own
    (as DDP's buckets expect) and writes Z's gradient in one product too, then runs the
    adjoint recursion A_k = G_k + 2 L~^T A_{k+1} - A_{k+2} with a precomputed L~^T (torch's
    own CSR backward would rebuild the transpose on every call, 8x the forward's time).
    Indexing Z term by term outside would cost a zero-filled, Z-sized gradient per term.
    """

    @staticmethod
    def forward(ctx, matrix: Tensor, transposed: Tensor, x: Tensor,  # type: ignore[override]
                *weights: Tensor) -> Tensor:
        order, (channels, nodes, batch) = len(weights), x.shape
        basis = x.new_empty((order, channels, nodes, batch))
        basis[0].copy_(x)
        for channel in range(channels):
            terms = basis[:, channel]  # (K, N, B), each term a contiguous (N, B) matrix
            if order > 1:
                torch.mm(matrix, terms[0], out=terms[1])
            for k in range(2, order):
                torch.addmm(terms[k - 2], matrix, terms[k - 1], beta=-1.0, alpha=2.0,
                            out=terms[k])
        mixing = torch.cat(weights, dim=1) if order > 1 else weights[0]  # (F_out, K * C)
        ctx.save_for_backward(basis, mixing)
        ctx.transposed = transposed
        return mixing @ basis.view(order * channels, nodes * batch)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, ...]:
        basis, mixing = ctx.saved_tensors
        order, channels, nodes, batch = basis.shape
        grad = grad.contiguous()  # (F_out, N * B)
        rows = basis.view(order * channels, nodes * batch)
        weight_grads: list[Tensor | None] = [None] * order
        if any(ctx.needs_input_grad[3:]):
            whole = grad @ rows.t()  # (F_out, K * C)
            # fresh (F_out, C) tensors: .contiguous() keeps a slice's strides where a dim is 1
            weight_grads = [whole.new_empty(whole.shape[0], channels).copy_(
                whole[:, k * channels:(k + 1) * channels]) for k in range(order)]
        grad_x = None
        if ctx.needs_input_grad[2]:
            # one output channel: an outer product, which a GEMM with inner size 1 does slowly
            rows_grad = mixing.t() * grad if grad.shape[0] == 1 else mixing.t() @ grad
            terms = rows_grad.view(order, channels, nodes, batch)  # ours to overwrite
            inputs = [_adjoint_recursion(ctx.transposed, terms[:, channel])
                      for channel in range(channels)]
            grad_x = inputs[0].unsqueeze(0) if channels == 1 else torch.stack(inputs)
        return None, None, grad_x, *weight_grads


def _adjoint_recursion(transposed: Tensor, grad: Tensor) -> Tensor:
    """d loss / d x (N, B) from d loss / d T_k (K, N, B), last term first, each A_k written
    over G_k (``grad`` is a scratch tensor of the backward's own)."""
    later = latest = None  # A_{k+2}, A_{k+1}
    for k in reversed(range(grad.shape[0])):
        total = grad[k]
        if latest is not None:
            torch.addmm(total, transposed, latest, alpha=2.0 if k > 0 else 1.0, out=total)
        if later is not None:
            total.sub_(later)
        later, latest = latest, total
    return latest


class StaticChebConv(ChebConv):
    """ChebConv (Defferrard et al. 2016) on one fixed graph for a whole batch of signals.

    Weights are PyG's (``lins``, ``bias``), so a state_dict loads into a plain ``ChebConv`` and
    back. The scaled Laplacian (and its transpose when the graph is not symmetric) is computed
    once and kept in buffers with ``persistent=False``: checkpoints carry weights only; the graph
    is rebuilt from ``edge_index``. Pass ``laplacian`` (from :func:`scaled_laplacian`) instead of
    ``edge_index``/``num_nodes`` to share one matrix between layers.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        K: int,
        edge_index: EdgeIndex | None = None,
        num_nodes: int | None = None,
        *,
        laplacian: Tensor | None = None,
        normalization: str = "sym",
        lambda_max: float = 2.0,
        bias: bool = True,
    ) -> None:
        super().__init__(in_channels, out_channels, K, normalization=normalization, bias=bias)
        if laplacian is None:
            if edge_index is None or num_nodes is None:
                raise ValueError("StaticChebConv needs edge_index and num_nodes, or laplacian")
            laplacian = scaled_laplacian(edge_index, num_nodes, normalization=normalization,
                                         lambda_max=lambda_max)
        self._register_csr("laplacian", laplacian)
        transposed = _transpose_csr(laplacian)
        self.symmetric = _same_csr(laplacian, transposed)
        if not self.symmetric:
            self._register_csr("laplacian_t", transposed)

    def _register_csr(self, name: str, matrix: Tensor) -> None:
        """Keep a CSR matrix as three dense buffers: a CSR tensor cannot be deep-copied."""
        for part, tensor in (("crow", matrix.crow_indices()), ("col", matrix.col_indices()),
                             ("values", matrix.values())):
            self.register_buffer(f"{name}_{part}", tensor, persistent=False)

    def _csr_buffer(self, name: str) -> Tensor:
        return _csr(getattr(self, f"{name}_crow"), getattr(self, f"{name}_col"),
                    getattr(self, f"{name}_values"))

    @property
    def laplacian(self) -> Tensor:
        """The scaled Laplacian L~, (N, N) sparse CSR, on the module's device and dtype."""
        return self._csr_buffer("laplacian")

    @property
    def num_nodes(self) -> int:
        return self.laplacian_crow.numel() - 1

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """Filter signals x (B, N, F_in) or (N, F_in) -> (B, N, F_out) or (N, F_out).

        Works channel-major, (F, N, B): each channel is one (N, B) matrix for the sparse matmul
        (the batch as columns), and mixing the K * F_in terms into F_out channels is one dense
        product with a long contiguous side. The output is a (B, N, F_out) view of a
        channel-major tensor, which the next StaticChebConv reads back without a copy.
        """
        single = x.dim() == 2
        if single:
            x = x.unsqueeze(0)
        batch, nodes, channels = x.shape
        if nodes != self.num_nodes:
            raise ValueError(f"expected {self.num_nodes} nodes, got x of shape {tuple(x.shape)}")
        matrix = self.laplacian
        transposed = matrix if self.symmetric else self._csr_buffer("laplacian_t")
        out = _ChebyshevFilter.apply(matrix, transposed, x.permute(2, 1, 0),
                                     *(lin.weight for lin in self.lins))  # (F_out, N*B)
        if self.bias is not None:
            out = out + self.bias.unsqueeze(1)
        out = out.view(-1, nodes, batch).permute(2, 1, 0)  # (B, N, F_out), a view
        return out[0] if single else out

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
                f"K={len(self.lins)}, num_nodes={self.num_nodes}, "
                f"normalization={self.normalization})")
