"""One seed of ``finelabel reproduce``: pairs, siamese net and labels, then the three methods.

Runs as a Ray task (seeds in parallel); every training inside it is a Ray Train run. It does
not write to MLflow (one writer per store): its epochs go to history files in the run folders
and it hands its results back to the driver, which records them.

    <out>/seed-<s>/            pairs, siamese net, labels of seed s (prepared data linked in)
    <out>/seed-<s>/<method>/   that method's model, history and result.json
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from finelabel.config import Config, with_values
from finelabel.run_folder import RunFolder, write_json

log = logging.getLogger(__name__)

#: The method (the configured recipe with its labels), the ablation, and the control.
METHODS = ("fglab", "ablation", "shuffled")
RESULT_FILE = "result.json"
#: What a folder of a seed or a method takes from the one above it.
PREPARED = ("items", "graph.npz", "vocab.tsv", "manifest.json", "config.yaml")
LABELLED = ("pairs", "label_model")


def method_config(config: Config, method: str, seed: int) -> Config:
    """``config`` for one method and seed: every seed of the run set to ``seed``."""
    values: dict[str, Any] = {"train.seed": seed, "siamese.seed": seed, "pairs.seed": seed}
    if method == "ablation":
        values["loss.beta"] = 0.0
    elif method == "shuffled":
        values["loss.shuffle_labels"] = True
    elif method != "fglab":
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return with_values(config, values, where=f"reproduce {method}")


def link(source: Path, target: Path, names: tuple[str, ...]) -> None:
    """Symlink ``names`` of ``source`` into ``target`` (the data they share is read-only)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        link_path, real = target / name, source / name
        if real.exists() and not link_path.exists():
            link_path.symlink_to(real.resolve(), target_is_directory=real.is_dir())


def seed_folder(root: Path, seed: int) -> RunFolder:
    return RunFolder.at(Path(root) / f"seed-{seed}")


def method_folder(root: Path, seed: int, method: str) -> RunFolder:
    return RunFolder.at(seed_folder(root, seed).root / method)


def needs_labels(config: Config) -> bool:
    return config.loss.beta > 0


def prepare_seed(config: Config, prepared: RunFolder, folder: RunFolder) -> None:
    """Pairs, siamese net and labels of one seed, each made once (a rerun reuses them)."""
    from finelabel.stages.label import label_pairs
    from finelabel.stages.pairs import make_pairs
    from finelabel.stages.siamese_folds import fit_fold_nets
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import fit

    link(prepared.root, folder.root, PREPARED)
    if not folder.pairs("train").exists():
        make_pairs(config, folder.root)
    if not needs_labels(config):
        return
    nets = folder.siamese_nets(config.label.folds)
    if not all((net / "meta.json").is_file() for net in nets):
        if config.label.folds > 1:  # one after another: the seeds already fill the cluster
            fit_fold_nets(config, folder, room=1)
        else:
            job = TrainJob("siamese", str(folder.root), str(nets[0]), config.model,
                           config.loss, config.siamese)
            fit(job, folder.pairs("siamese"), storage_path=folder.ray_results,
                run_name="siamese")
    if not folder.label_model.exists():
        label_pairs(config, folder.root)


def train_method(config: Config, seed_dir: RunFolder, folder: RunFolder) -> dict[str, Any]:
    """Train and evaluate one method in its own folder; its result is also written there."""
    from finelabel.stages.evaluate import evaluate
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import fit

    link(seed_dir.root, folder.root, PREPARED + LABELLED)
    pairs = folder.pairs("labelled") if needs_labels(config) else folder.pairs("train")
    job = TrainJob("dual", str(folder.root), str(folder.model("dual")), config.model, config.loss,
                   config.train)
    outcome = fit(job, pairs, storage_path=folder.ray_results, run_name="dual")
    results = evaluate(config, folder.root, folder.model("dual"))
    result = {"test": results["test"], "best_epoch": outcome.metrics.get("epoch"),
              "best_val_map_avg": outcome.metrics.get("val_map_avg"),
              "epochs_run": outcome.last_metrics.get("epoch"),
              "history": str(job.history_path()), "folder": str(folder.root)}
    write_json(folder.root / RESULT_FILE, result)
    return result


def finished(folder: RunFolder) -> dict[str, Any] | None:
    path = folder.root / RESULT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def run_seed(config: Config, root: str, seed: int,
             methods: tuple[str, ...] = METHODS) -> dict[str, dict[str, Any]]:
    """Every method of one seed; methods finished by an earlier run are read back."""
    root_path = Path(root)
    prepared = RunFolder.at(root_path / "prepared")
    seed_dir = seed_folder(root_path, seed)
    results = {}
    todo = [m for m in methods if finished(method_folder(root_path, seed, m)) is None]
    if todo:
        base = method_config(config, "fglab", seed)
        # The labels are made once per seed for the methods that use them; the ablation
        # trains on the same pairs.
        prepare_seed(base if any(needs_labels(method_config(config, m, seed)) for m in todo)
                     else method_config(config, "ablation", seed), prepared, seed_dir)
    for method in methods:
        folder = method_folder(root_path, seed, method)
        done = finished(folder)
        if done is None:
            log.info("seed %d: training %s", seed, method)
            done = train_method(method_config(config, method, seed), seed_dir, folder)
        results[method] = done
    return results
