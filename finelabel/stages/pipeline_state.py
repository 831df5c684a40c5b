"""What a pipeline run has done, kept in its run folder, so that running it again continues it.

``pipeline.json`` holds the pipeline's MLflow parent run, and per stage its MLflow run, the
fingerprint of the settings it ran with and whether it finished. Running the pipeline again
(after a crash, a kill, or with more epochs):

- reopens the same MLflow runs (a killed driver leaves them RUNNING; they end properly now);
- skips a stage that finished with the same settings, unless a stage before it ran again;
- runs the others, each continuing its own work (Ray Train resumes from its checkpoints).

A stage's fingerprint covers only the settings that change its output, so ``--set
train.epochs=60`` reruns train (which resumes) and evaluate, not prepare.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finelabel.config import Config, public_dict
from finelabel.run_folder import RunFolder, write_json
from finelabel.tracking.uri import redact

STATE_FILE = "pipeline.json"
#: Config sections (or section.key) whose values decide each stage's output.
STAGE_INPUTS: dict[str, tuple[str, ...]] = {
    "prepare": ("data", "image", "text", "graph"),
    "pairs": ("pairs",),
    "siamese": ("model", "siamese", "label.folds"),
    "label": ("label", "loss.bins", "siamese.seed"),
    "train": ("model", "loss", "train"),
    "evaluate": ("eval",),
}
#: How many workers ran, or may fail, or how they shared gradients, changes nothing a stage
#: writes (and a key added here keeps the fingerprints of older run folders).
NOT_OUTPUTS = ("num_workers", "max_failures", "use_gpu", "placement_strategy", "share_factors")
#: A Ray Train run continues from its checkpoints only under the same identity; its budget
#: (epochs, patience) may grow.
NOT_IDENTITY = NOT_OUTPUTS + ("epochs", "patience")


def _values(config: Config, keys: tuple[str, ...], drop: tuple[str, ...]) -> dict[str, Any]:
    tree = public_dict(config)
    out = {}
    for key in keys:
        section, _, leaf = key.partition(".")
        value = tree[section][leaf] if leaf else tree[section]
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in drop}
        out[key] = value
    return out


def _hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(config: Config, stage: str) -> str:
    """The settings that decide ``stage``'s output, hashed."""
    return _hash(_values(config, STAGE_INPUTS[stage], NOT_OUTPUTS))


def train_run_name(config: Config, task: str) -> str:
    """Ray Train's run name for ``task``: a changed model, loss or optimiser starts afresh
    instead of loading a checkpoint it does not fit; more epochs continue the same run."""
    keys = ("model", "loss", "train") if task == "dual" else ("model", "siamese", "label.folds")
    return f"{task}-{_hash(_values(config, keys, NOT_IDENTITY))[:10]}"


@dataclass
class PipelineState:
    """The file's content: see the module docstring."""

    path: Path
    tracking_uri: str = ""
    parent_run_id: str | None = None
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The run folder, which publishes each save (a killed driver loses no run id).
    folder: RunFolder | None = None

    @classmethod
    def read(cls, folder: RunFolder, tracking_uri: str) -> PipelineState:
        """The state of an earlier run recorded in the same store, else a fresh one."""
        path = folder.root / STATE_FILE
        if path.is_file():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("tracking_uri") == redact(tracking_uri):
                return cls(path, saved["tracking_uri"], folder=folder,
                           parent_run_id=saved.get("parent_run_id"),
                           stages=saved.get("stages", {}))
        return cls(path, redact(tracking_uri), folder=folder)

    def save(self) -> None:
        write_json(self.path, {"tracking_uri": self.tracking_uri,
                               "parent_run_id": self.parent_run_id, "stages": self.stages})
        if self.folder is not None:
            self.folder.publish(self.path)

    def finished(self, stage: str, config: Config) -> bool:
        entry = self.stages.get(stage, {})
        return bool(entry.get("finished")) and entry.get("fingerprint") == fingerprint(
            config, stage)

    def run_id(self, stage: str) -> str | None:
        return self.stages.get(stage, {}).get("run_id")

    def started(self, stage: str, run_id: str, config: Config) -> None:
        self.stages[stage] = {"run_id": run_id, "fingerprint": fingerprint(config, stage),
                              "finished": False}
        self.save()

    def done(self, stage: str, report: dict[str, Any] | None = None) -> None:
        self.stages[stage]["finished"] = True
        if report is not None:
            self.stages[stage]["report"] = report
        self.save()
