"""The text encoder f_T: two Chebyshev graph convolutions on the word graph, then a dense layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from finelabel.models.cheb_conv import StaticChebConv, scaled_laplacian
from finelabel.typing import EdgeIndex, TextSignals


@torch.no_grad()
def start_smoothing(conv: StaticChebConv) -> None:
    """Give a filter's first two Chebyshev weights the signs of a smoothing filter.

    Inputs are non-negative (word counts, then ReLU outputs) and L~ = -D^-1/2 A D^-1/2 has no
    positive entry, so theta_0 >= 0 and theta_1 <= 0 make both terms add up at every word and
    its neighbours. With the default signs, on English Wikipedia's graph 2 seeds in 20 started
    with no unit of the second layer that varies across texts (the text side then never
    learns; the demo lost one of two seeds so); with these, every seed starts with over 99 %.
    Only signs change: the magnitudes are still the layer's own initialisation.
    """
    conv.lins[0].weight.abs_()
    if len(conv.lins) > 1:
        conv.lins[1].weight.copy_(-conv.lins[1].weight.abs())


class TextGCNEncoder(nn.Module):
    """Embed word-count signals on one word graph into the common space (Yu et al., PCM 2018).

    ``signal`` first turns counts into the graph signal (see :mod:`text_signal`).
    conv1 (1 -> filters) -> ReLU -> conv2 (filters -> filters) + per-node bias -> ReLU ->
    flatten -> Linear(N * filters, embed_dim). The per-node bias (N, filters) comes before the
    last ReLU, as Defferrard's ``b2relu`` does (a bias after it would fold into the Linear's).
    Both convolutions share one scaled Laplacian; the graph is never copied per sample.
    """

    def __init__(
        self,
        edge_index: EdgeIndex,
        num_nodes: int,
        *,
        cheb_order: int = 3,
        filters: int = 1,
        embed_dim: int = 1024,
        signal: nn.Module | None = None,
    ) -> None:
        super().__init__()
        #: counts -> graph signal (log, TF-IDF, ...); identity when None
        self.signal = signal if signal is not None else nn.Identity()
        laplacian = scaled_laplacian(edge_index, num_nodes)
        self.conv1 = StaticChebConv(1, filters, cheb_order, laplacian=laplacian)
        self.conv2 = StaticChebConv(filters, filters, cheb_order, laplacian=laplacian)
        for conv in (self.conv1, self.conv2):
            start_smoothing(conv)
        self.node_bias = nn.Parameter(torch.zeros(num_nodes, filters))
        self.fc = nn.Linear(num_nodes * filters, embed_dim)
        self.num_nodes = num_nodes
        self.embed_dim = embed_dim

    def forward(self, x: TextSignals) -> Tensor:
        """Embed signals x (B, N) or (B, N, 1) -> (B, embed_dim)."""
        if x.dim() == 3:
            x = x.squeeze(-1)  # (B, N)
        x = self.signal(x).unsqueeze(-1)  # (B, N, 1)
        hidden = torch.relu(self.conv1(x))  # (B, N, filters)
        hidden = torch.relu(self.conv2(hidden) + self.node_bias)  # (B, N, filters)
        return self.fc(hidden.reshape(hidden.shape[0], -1))  # (B, N*filters) -> (B, d)
