"""StaticChebConv against PyG's ChebConv, applied sample by sample on the same graph."""

from __future__ import annotations

import copy

import pytest
import torch
from torch_geometric.nn import ChebConv
from torch_geometric.utils import to_undirected

from finelabel.models.cheb_conv import StaticChebConv, scaled_laplacian

NUM_NODES = 23


def random_graph(num_nodes: int = NUM_NODES, degree: int = 3, seed: int = 0) -> torch.Tensor:
    """A symmetric graph: each node linked to `degree` random others, both directions kept."""
    gen = torch.Generator().manual_seed(seed)
    source = torch.arange(num_nodes).repeat_interleave(degree)
    target = (source + torch.randint(1, num_nodes, (source.numel(),), generator=gen)) % num_nodes
    return to_undirected(torch.stack([source, target]), num_nodes=num_nodes)


def pyg_twin(conv: StaticChebConv) -> ChebConv:
    twin = ChebConv(conv.in_channels, conv.out_channels, len(conv.lins),
                    normalization=conv.normalization)
    twin.load_state_dict(conv.state_dict())
    return twin


def per_sample(twin: ChebConv, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    return torch.stack([twin(sample, edge_index) for sample in x])


@pytest.mark.parametrize("f_in,f_out", [(1, 1), (1, 4), (3, 2), (4, 4)])
def test_matches_pyg_chebconv_outputs_and_gradients(f_in: int, f_out: int) -> None:
    torch.manual_seed(f_in * 10 + f_out)
    edge_index = random_graph()
    conv = StaticChebConv(f_in, f_out, 3, edge_index, NUM_NODES)
    twin = pyg_twin(conv)
    torch.nn.init.normal_(conv.bias)
    twin.bias.data.copy_(conv.bias.data)
    x = torch.randn(5, NUM_NODES, f_in, requires_grad=True)

    ours = conv(x)
    ours.square().sum().backward()
    ours_grads = [x.grad.clone()] + [p.grad.clone() for p in conv.parameters()]
    x.grad = None
    theirs = per_sample(twin, x, edge_index)
    theirs.square().sum().backward()
    theirs_grads = [x.grad] + [p.grad for p in twin.parameters()]

    assert ours.shape == (5, NUM_NODES, f_out)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    for mine, reference in zip(ours_grads, theirs_grads, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-4)
    # each weight's gradient laid out as the weight is, as DDP's gradient buckets expect
    assert all(p.grad.stride() == p.stride() for p in conv.parameters())


@pytest.mark.parametrize("order", [1, 2, 5])
def test_other_orders_match_pyg(order: int) -> None:
    torch.manual_seed(order)
    edge_index = random_graph(seed=order)
    conv = StaticChebConv(2, 3, order, edge_index, NUM_NODES)
    x = torch.randn(4, NUM_NODES, 2)
    torch.testing.assert_close(conv(x), per_sample(pyg_twin(conv), x, edge_index),
                               rtol=1e-5, atol=1e-5)


def test_directed_graph_with_rw_normalisation_matches_pyg() -> None:
    torch.manual_seed(1)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 0, 2], [1, 2, 3, 4, 0, 2, 4]])
    conv = StaticChebConv(2, 2, 3, edge_index, 5, normalization="rw")
    assert not conv.symmetric
    x = torch.randn(3, 5, 2, requires_grad=True)
    conv(x).sum().backward()
    ours_grad = x.grad.clone()
    x.grad = None
    twin = pyg_twin(conv)
    theirs = per_sample(twin, x, edge_index)
    theirs.sum().backward()
    torch.testing.assert_close(conv(x), theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_grad, x.grad, rtol=1e-5, atol=1e-5)


def test_scaled_laplacian_is_minus_normalised_adjacency() -> None:
    edge_index = random_graph()
    dense_adj = torch.zeros(NUM_NODES, NUM_NODES)
    dense_adj[edge_index[0], edge_index[1]] = 1.0
    inv_sqrt = dense_adj.sum(1).rsqrt()
    expected = -(inv_sqrt[:, None] * dense_adj * inv_sqrt[None, :])
    laplacian = scaled_laplacian(edge_index, NUM_NODES)
    assert laplacian.layout == torch.sparse_csr
    torch.testing.assert_close(laplacian.to_dense(), expected)
    eigenvalues = torch.linalg.eigvalsh(laplacian.to_dense().double())
    assert eigenvalues.min() >= -1 - 1e-9 and eigenvalues.max() <= 1 + 1e-9


def test_state_dict_is_pyg_compatible_and_carries_no_graph() -> None:
    conv = StaticChebConv(1, 4, 3, random_graph(), NUM_NODES)
    assert set(conv.state_dict()) == set(ChebConv(1, 4, 3).state_dict())
    assert "laplacian_values" in dict(conv.named_buffers())


def test_single_signal_without_batch_dimension() -> None:
    conv = StaticChebConv(2, 3, 3, random_graph(), NUM_NODES)
    x = torch.randn(4, NUM_NODES, 2)
    torch.testing.assert_close(conv(x[1]), conv(x)[1])


def test_rejects_wrong_node_count_and_out_of_range_edges() -> None:
    conv = StaticChebConv(1, 1, 3, random_graph(), NUM_NODES)
    with pytest.raises(ValueError, match="expected 23 nodes"):
        conv(torch.randn(2, NUM_NODES + 1, 1))
    with pytest.raises(ValueError, match="num_nodes"):
        StaticChebConv(1, 1, 3, random_graph(), NUM_NODES - 5)


def test_deepcopy_and_dtype_conversion_keep_the_graph() -> None:
    conv = StaticChebConv(2, 2, 3, random_graph(), NUM_NODES)
    x = torch.randn(3, NUM_NODES, 2)
    torch.testing.assert_close(copy.deepcopy(conv)(x), conv(x))
    double = copy.deepcopy(conv).double()
    assert double.laplacian.dtype == torch.float64
    torch.testing.assert_close(double(x.double()).float(), conv(x), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_matches_pyg_chebconv_on_cuda() -> None:
    torch.manual_seed(0)
    edge_index = random_graph().cuda()
    conv = StaticChebConv(2, 3, 3, edge_index, NUM_NODES).cuda()
    twin = pyg_twin(conv).cuda()
    x = torch.randn(5, NUM_NODES, 2, device="cuda", requires_grad=True)
    conv(x).square().sum().backward()
    ours_grad = x.grad.clone()
    x.grad = None
    theirs = per_sample(twin, x, edge_index)
    theirs.square().sum().backward()
    assert conv.laplacian.device.type == "cuda"
    torch.testing.assert_close(conv(x), theirs, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours_grad, x.grad, rtol=1e-4, atol=1e-4)
