"""Domain types, named once."""

from __future__ import annotations

import numpy as np
import torch

#: (2, E) int64 tensor of directed edges; the word graph stores both directions.
EdgeIndex = torch.Tensor
#: (num_queries, num_database) scores, higher = more relevant.
ScoreMatrix = np.ndarray | torch.Tensor
#: (B, |V|) or (B, |V|, F) float tensor: texts as signals on the word graph.
TextSignals = torch.Tensor
#: (B, D) float tensor of fixed image features.
ImageFeatures = torch.Tensor
