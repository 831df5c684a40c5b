"""How a text's word counts enter the graph: raw counts, log(1 + count), TF-IDF, or L2 rows.

Kept in the model (the idf vector a buffer fitted on training texts), so checkpoints carry it
and every caller (training, evaluation, labelling) feeds the same raw counts.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from finelabel.config import TEXT_SIGNALS


def inverse_document_frequency(train_counts: sp.csr_matrix) -> np.ndarray:
    """(|V|,) smoothed idf of the training texts (n, |V|): log((1 + n) / (1 + df)) + 1."""
    n = train_counts.shape[0]
    df = np.bincount(train_counts.indices, minlength=train_counts.shape[1])  # CSR: one per text
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


class TextSignal(nn.Module):
    """x (B, |V|) word counts -> (B, |V|) graph signal of the configured kind."""

    def __init__(self, kind: str, idf: Tensor | None = None) -> None:
        super().__init__()
        if kind not in TEXT_SIGNALS:
            raise ValueError(f"text signal must be one of {TEXT_SIGNALS}, got {kind!r}")
        if kind == "tfidf" and idf is None:
            raise ValueError("a tfidf signal needs the training texts' idf")
        self.kind = kind
        self.register_buffer("idf", torch.as_tensor(idf) if idf is not None else torch.zeros(0))

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "counts":
            return x
        if self.kind == "l2":
            return nn.functional.normalize(x, dim=-1)
        x = torch.log1p(x)
        if self.kind == "log1p":
            return x
        return nn.functional.normalize(x * self.idf, dim=-1)  # tfidf

    def extra_repr(self) -> str:
        return self.kind


def fit_text_signal(kind: str, train_counts: sp.csr_matrix) -> TextSignal:
    """The signal, its idf fitted on the training texts when the kind needs one."""
    idf = torch.from_numpy(inverse_document_frequency(train_counts)) if kind == "tfidf" else None
    return TextSignal(kind, idf)
