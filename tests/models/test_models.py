"""Text and image encoders, score head, siamese and dual-path models, and their factory."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.utils import to_undirected

from finelabel.config import ModelConfig
from finelabel.models import (
    DualPathModel,
    ImageEncoder,
    ScoreHead,
    SiameseTextModel,
    TextGCNEncoder,
    build_dual_path,
    build_siamese,
    build_text_encoder,
)

NUM_NODES, IMAGE_DIM, BATCH = 30, 12, 6
CFG = ModelConfig(cheb_order=3, filters=2, embed_dim=16, dropout=0.4)


def random_graph(num_nodes: int = NUM_NODES, degree: int = 3, seed: int = 0) -> torch.Tensor:
    """A symmetric graph: each node linked to `degree` random others, both directions kept."""
    gen = torch.Generator().manual_seed(seed)
    source = torch.arange(num_nodes).repeat_interleave(degree)
    target = (source + torch.randint(1, num_nodes, (source.numel(),), generator=gen)) % num_nodes
    return to_undirected(torch.stack([source, target]), num_nodes=num_nodes)


def word_counts(batch: int = BATCH, seed: int = 0) -> torch.Tensor:
    """(B, N) sparse non-negative counts, like texts on the word graph."""
    gen = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, NUM_NODES), 0.3), generator=gen)


def images(batch: int = BATCH, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, IMAGE_DIM, generator=torch.Generator().manual_seed(seed))


def perturb_biases(model: torch.nn.Module) -> None:
    """Biases start at zero; make them matter so the tests see them."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "bias" in name:
                param.normal_(std=0.1)


def test_text_encoder_shapes_and_shared_laplacian() -> None:
    encoder = build_text_encoder(CFG, random_graph(), NUM_NODES)
    x = word_counts()
    out = encoder(x)
    assert out.shape == (BATCH, CFG.embed_dim)
    torch.testing.assert_close(encoder(x.unsqueeze(-1)), out)
    assert encoder.conv1.laplacian_values.data_ptr() == encoder.conv2.laplacian_values.data_ptr()


def test_text_encoder_is_invariant_to_batch_order() -> None:
    torch.manual_seed(0)
    encoder = build_text_encoder(CFG, random_graph(), NUM_NODES)
    perturb_biases(encoder)
    x = word_counts(batch=9)
    perm = torch.randperm(9)
    torch.testing.assert_close(encoder(x[perm]), encoder(x)[perm], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(encoder(x[:1]), encoder(x)[:1], rtol=1e-5, atol=1e-6)


def chebconv_twin(conv: torch.nn.Module) -> torch.nn.Module:
    """PyG's own ChebConv with ``conv``'s weights: an encoder computed independently of ours."""
    from torch_geometric.nn import ChebConv  # imported by finelabel.models, its warning muted

    twin = ChebConv(conv.in_channels, conv.out_channels, len(conv.lins))
    twin.load_state_dict(conv.state_dict())
    return twin


def encoder_by_hand(encoder: TextGCNEncoder, edge_index: torch.Tensor, x: torch.Tensor,
                    node_bias: torch.Tensor) -> torch.Tensor:
    """conv1 -> ReLU -> conv2 + node_bias (N, filters) -> ReLU -> flatten -> fc, text by text."""
    conv1, conv2 = chebconv_twin(encoder.conv1), chebconv_twin(encoder.conv2)
    out = []
    for counts in x:  # (N,)
        hidden = torch.relu(conv1(counts.unsqueeze(-1), edge_index))  # (N, filters)
        hidden = torch.relu(conv2(hidden, edge_index) + node_bias)  # (N, filters)
        out.append(encoder.fc(hidden.reshape(-1)))  # (N * filters,) -> (d,)
    return torch.stack(out)


def test_node_bias_acts_per_node_before_the_last_relu() -> None:
    """Defferrard's b2relu: one bias per (node, filter), added before the last ReLU. A bias after
    the ReLU, or one shared by every node, gives other embeddings than the hand computation."""
    torch.manual_seed(0)
    edge_index = random_graph()
    encoder = build_text_encoder(CFG, edge_index, NUM_NODES)
    assert encoder.node_bias.shape == (NUM_NODES, CFG.filters)
    x = word_counts()
    bias = torch.randn(NUM_NODES, CFG.filters)  # both signs: some units cut, some let through
    with torch.no_grad():
        encoder.node_bias.copy_(bias)
        expected = encoder_by_hand(encoder, edge_index, x, bias)
        torch.testing.assert_close(encoder(x), expected, rtol=1e-5, atol=1e-5)
        before = encoder(x)
        encoder.node_bias[3].fill_(5.0)  # node 3 now always passes the ReLU
        bias[3] = 5.0
        torch.testing.assert_close(encoder(x), encoder_by_hand(encoder, edge_index, x, bias),
                                   rtol=1e-5, atol=1e-5)
    assert (encoder(x) - before).abs().max() > 1e-3


def test_image_encoder_shape() -> None:
    assert ImageEncoder(IMAGE_DIM, 16)(images()).shape == (BATCH, 16)


def test_score_head_is_a_learned_weighted_product() -> None:
    torch.manual_seed(0)
    head = ScoreHead(8, dropout=0.4).eval()
    u, v = torch.randn(5, 8), torch.randn(5, 8)
    expected = (u * v) @ head.fc.weight[0] + head.fc.bias
    torch.testing.assert_close(head(u, v), expected)
    head.train()
    assert not torch.allclose(head(u, v), expected)  # dropout acts in training


@pytest.mark.parametrize("chunk_size", [1, 3, 4096])
def test_score_matrix_equals_pairwise_forward_in_eval(chunk_size: int) -> None:
    torch.manual_seed(0)
    head = ScoreHead(8, dropout=0.4).eval()
    perturb_biases(head)
    u, v = torch.randn(7, 8), torch.randn(5, 8)
    pairwise = head(u.repeat_interleave(5, 0), v.repeat(7, 1)).view(7, 5)  # row i*5+j = (u_i, v_j)
    torch.testing.assert_close(head.score_matrix(u, v, chunk_size=chunk_size), pairwise)


def test_gradients_reach_every_parameter_of_both_models() -> None:
    torch.manual_seed(0)
    edge_index = random_graph()
    dual, siamese = build_dual_path(CFG, edge_index, NUM_NODES, IMAGE_DIM), build_siamese(
        CFG, edge_index, NUM_NODES)
    for model in (dual, siamese):
        perturb_biases(model)  # a zero node bias with a dead ReLU would starve some grads
    dual(word_counts(), images()).square().sum().backward()
    siamese(word_counts(seed=1), word_counts(seed=2)).square().sum().backward()
    for model in (dual, siamese):
        for name, param in model.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_siamese_shares_one_encoder_and_scores_from_embeddings() -> None:
    torch.manual_seed(0)
    model = build_siamese(CFG, random_graph(), NUM_NODES).eval()
    assert isinstance(model, SiameseTextModel)
    assert sum(isinstance(m, TextGCNEncoder) for m in model.modules()) == 1
    xa, xb = word_counts(seed=1), word_counts(seed=2)
    scores = model(xa, xb)
    assert scores.shape == (BATCH,)
    torch.testing.assert_close(model.score_embeddings(model.embed(xa), model.embed(xb)), scores)
    torch.testing.assert_close(model(xb, xa), scores)  # r(a, b) = r(b, a)


def test_dual_path_forward_and_score_matrix_agree() -> None:
    torch.manual_seed(0)
    model = build_dual_path(CFG, random_graph(), NUM_NODES, IMAGE_DIM).eval()
    assert isinstance(model, DualPathModel)
    text, image = word_counts(), images()
    scores = model(text, image)
    assert scores.shape == (BATCH,)
    matrix = model.score_matrix(model.encode_text(text), model.encode_image(image[:4]))
    assert matrix.shape == (BATCH, 4)
    torch.testing.assert_close(matrix.diagonal(), scores[:4], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["dual", "siamese"])
def test_state_dict_round_trip_rebuilds_an_identical_model(kind: str) -> None:
    edge_index = random_graph()

    def build() -> torch.nn.Module:
        if kind == "dual":
            return build_dual_path(CFG, edge_index, NUM_NODES, IMAGE_DIM)
        return build_siamese(CFG, edge_index, NUM_NODES)

    torch.manual_seed(0)
    original = build()
    perturb_biases(original)
    state = original.state_dict()
    assert not any("laplacian" in key for key in state)  # the graph comes from edge_index
    torch.manual_seed(1)
    rebuilt = build()
    rebuilt.load_state_dict(state)
    original.eval(), rebuilt.eval()
    second = images() if kind == "dual" else word_counts(seed=3)
    torch.testing.assert_close(rebuilt(word_counts(), second), original(word_counts(), second))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_dual_path_on_cuda_matches_cpu() -> None:
    torch.manual_seed(0)
    model = build_dual_path(CFG, random_graph(), NUM_NODES, IMAGE_DIM).eval()
    perturb_biases(model)
    on_cpu = model(word_counts(), images())
    model.cuda()
    on_gpu = model(word_counts().cuda(), images().cuda())
    on_gpu.sum().backward()
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-4, atol=1e-4)
    assert all(p.grad is not None for p in model.parameters())


def test_text_encoders_start_alive_whatever_the_seed(prepared_synthetic) -> None:
    """Default Chebyshev signs left some seeds with every unit dead: no gradient, no learning."""
    from finelabel.data.prepared import PreparedData
    from finelabel.models import create_model

    data = PreparedData.load(prepared_synthetic)
    x = data.texts(data.indices("train")[:64]).unsqueeze(-1)
    for seed in range(20):
        torch.manual_seed(seed)
        encoder = create_model("dual", ModelConfig(embed_dim=8), data).text_encoder
        with torch.no_grad():
            hidden = torch.relu(encoder.conv2(torch.relu(encoder.conv1(x))) + encoder.node_bias)
        varying = (hidden.std(dim=0) > 1e-6).float().mean().item()
        assert varying > 0.9, (seed, varying)
