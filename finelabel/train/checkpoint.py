"""Checkpoints: model weights, optimiser state and what is needed to rebuild the model.

A checkpoint is a folder: ``model.pt`` (weights of the unwrapped model), ``state.pt``
(optimiser, scheduler, epoch, best validation MAP) and ``meta.json`` (task, model config, graph
size, image dim, metrics). The word graph is not copied: it is rebuilt from the prepared data.
Everything loads with ``weights_only=True``: a checkpoint never runs code, and a damaged or
foreign one is refused with one line naming it.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from finelabel.config import ModelConfig, build
from finelabel.data.prepared import PreparedData
from finelabel.errors import ConfigError, FinelabelError
from finelabel.models import create_model

MODEL_FILE, STATE_FILE, META_FILE = "model.pt", "state.pt", "meta.json"


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def save_checkpoint(path: str | Path, model: nn.Module, *, task: str, cfg: ModelConfig,
                    data: PreparedData, state: dict[str, Any] | None = None,
                    metrics: dict[str, float] | None = None, label_weight: float = 0.0) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    torch.save(unwrap(model).state_dict(), path / MODEL_FILE)
    if state is not None:
        torch.save(state, path / STATE_FILE)
    meta = {"task": task, "model": vars(cfg), "num_nodes": data.num_nodes,
            "image_dim": data.image_dim, "label_weight": label_weight, "metrics": metrics or {}}
    (path / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise FinelabelError(f"{path}: not a finelabel checkpoint (no {META_FILE})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FinelabelError(f"{meta_path}: damaged checkpoint metadata ({error})") from None
    if not isinstance(meta, dict) or not {"task", "model", "num_nodes"} <= set(meta):
        raise FinelabelError(f"{meta_path}: not finelabel checkpoint metadata")
    return meta


def load_tensors(path: Path) -> Any:
    """``torch.load(path, weights_only=True)``; a damaged or foreign file is one clear error."""
    if not path.is_file():
        raise FinelabelError(f"{path}: missing from the checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError,
            OSError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FinelabelError(f"{path}: not a readable checkpoint file, truncated or not saved "
                             f"by finelabel ({first[:200]})") from None


def load_weights(model: nn.Module, path: Path) -> nn.Module:
    """Load ``model.pt`` weights into ``model``; weights of another architecture are refused."""
    try:
        unwrap(model).load_state_dict(load_tensors(path))
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise FinelabelError(f"{path}: the weights do not fit the model this checkpoint's "
                             f"config builds ({first[:200]})") from None
    return model


def load_model(path: str | Path, data: PreparedData, *, task: str | None = None) -> nn.Module:
    """Rebuild the model of checkpoint ``path`` on ``data``'s word graph, in eval mode."""
    meta = read_meta(path)
    if task is not None and meta["task"] != task:
        raise FinelabelError(f"{path}: a {meta['task']} checkpoint, expected {task}")
    if meta["num_nodes"] != data.num_nodes:
        raise FinelabelError(f"{path}: trained on a graph of {meta['num_nodes']} words, but the "
                             f"prepared data has {data.num_nodes}; use the same prepared folder")
    try:
        cfg = build(ModelConfig, meta["model"], "model")
    except ConfigError as error:
        raise FinelabelError(f"{path}: {error}") from None
    model = create_model(meta["task"], cfg, data, label_weight=meta.get("label_weight", 0.0))
    return load_weights(model, Path(path) / MODEL_FILE).eval()


def load_state(path: str | Path) -> dict[str, Any]:
    """Optimiser, scheduler, epoch and best score of a training checkpoint."""
    state = load_tensors(Path(path) / STATE_FILE)
    if not isinstance(state, dict) or not {"optimizer", "scheduler", "epoch"} <= set(state):
        raise FinelabelError(f"{Path(path) / STATE_FILE}: not a finelabel training state")
    return state
