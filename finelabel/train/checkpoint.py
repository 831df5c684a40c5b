"""Checkpoints: model weights, optimiser state and what is needed to rebuild the model.

A checkpoint is a folder: ``model.pt`` (weights of the unwrapped model), ``state.pt``
(optimiser, scheduler, epoch, best validation MAP) and ``meta.json`` (task, model config, graph
size, image dim, metrics). The word graph is not copied: it is rebuilt from the prepared data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finelabel.config import ModelConfig, build
from finelabel.data.prepared import PreparedData
from finelabel.errors import FinelabelError
from finelabel.models import build_dual_path, build_siamese
from finelabel.models.feature_norm import image_normalizer

MODEL_FILE, STATE_FILE, META_FILE = "model.pt", "state.pt", "meta.json"


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def build_model(task: str, cfg: ModelConfig, data: PreparedData) -> nn.Module:
    """A fresh model; the dual path's image input is normalised with training statistics."""
    if task == "siamese":
        return build_siamese(cfg, data.edge_index, data.num_nodes)
    model = build_dual_path(cfg, data.edge_index, data.num_nodes, data.image_dim)
    norm = image_normalizer(cfg.image_norm, data.images(data.indices("train")))
    model.image_encoder = nn.Sequential(norm, model.image_encoder)
    return model


def save_checkpoint(path: str | Path, model: nn.Module, *, task: str, cfg: ModelConfig,
                    data: PreparedData, state: dict[str, Any] | None = None,
                    metrics: dict[str, float] | None = None) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(unwrap(model).state_dict(), path / MODEL_FILE)
    if state is not None:
        torch.save(state, path / STATE_FILE)
    meta = {"task": task, "model": vars(cfg), "num_nodes": data.num_nodes,
            "image_dim": data.image_dim, "metrics": metrics or {}}
    (path / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise FinelabelError(f"{path}: not a finelabel checkpoint (no {META_FILE})")
    return json.loads(meta_path.read_text(encoding="utf-8"))


def load_model(path: str | Path, data: PreparedData, *, task: str | None = None) -> nn.Module:
    """Rebuild the model of checkpoint ``path`` on ``data``'s word graph, in eval mode."""
    meta = read_meta(path)
    if task is not None and meta["task"] != task:
        raise FinelabelError(f"{path}: a {meta['task']} checkpoint, expected {task}")
    if meta["num_nodes"] != data.num_nodes:
        raise FinelabelError(f"{path}: trained on a graph of {meta['num_nodes']} words, but the "
                             f"prepared data has {data.num_nodes}; use the same prepared folder")
    model = build_model(meta["task"], build(ModelConfig, meta["model"], "model"), data)
    model.load_state_dict(torch.load(Path(path) / MODEL_FILE, map_location="cpu"))
    return model.eval()


def load_state(path: str | Path) -> dict[str, Any]:
    return torch.load(Path(path) / STATE_FILE, map_location="cpu", weights_only=False)
