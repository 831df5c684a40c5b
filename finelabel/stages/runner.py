"""Run the stages of DESIGN.md section 3, each as an MLflow run, alone or as one pipeline.

    prepare -> pairs -> siamese -> label -> train -> evaluate

A stage reads and writes the run folder (``--out``); its MLflow run gets the stage's summary as
metrics and its outputs as artifacts. In a pipeline, the stages are child runs of one parent.
With ``loss.beta = 0`` (the predecessor's ablation) the siamese and label stages are skipped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finelabel.config import Config
from finelabel.data.manifest import MANIFEST_NAME
from finelabel.tracking import Tracker, pipeline_run, run_tags, stage_run

log = logging.getLogger(__name__)

STAGES = ("prepare", "pairs", "siamese", "label", "train", "evaluate")
RESULTS_FILE = "results.json"


@dataclass
class StageContext:
    """What every stage gets: the config, the run folder and where to record."""

    config: Config
    out: Path
    tracker: Tracker
    run_id: str
    on_error: str = "fail"

    def model_dir(self, task: str) -> Path:
        return self.out / task / "model"


def _numbers(summary: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_prepare(ctx: StageContext) -> dict[str, Any]:
    from finelabel.stages.prepare import prepare

    manifest = prepare(ctx.config, ctx.out, on_error=ctx.on_error)
    ctx.tracker.log_artifact(ctx.run_id, ctx.out / MANIFEST_NAME)
    ctx.tracker.set_tags(ctx.run_id, run_tags(ctx.out / MANIFEST_NAME))
    counts = {f"{split}_items": n for split, n in manifest["counts"].items()}
    skipped = {f"skipped_{reason}": n for reason, n in manifest["skipped"].items()}
    return {**counts, **skipped, "vocab_size": manifest["vocab_size"],
            "graph_edges": manifest["graph"]["edges"], "seconds": manifest["seconds"]}


def run_pairs(ctx: StageContext) -> dict[str, Any]:
    from finelabel.stages.pairs import make_pairs

    return make_pairs(ctx.config, ctx.out)


def _fit(ctx: StageContext, task: str, pairs: str) -> dict[str, Any]:
    from finelabel.stages.pairs import pairs_path
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import fit

    train = ctx.config.siamese if task == "siamese" else ctx.config.train
    job = TrainJob(task, str(ctx.out), str(ctx.model_dir(task)), ctx.config.model,
                   ctx.config.loss, train, ctx.config.eval, ctx.tracker.tracking_uri, ctx.run_id)
    outcome = fit(job, pairs_path(ctx.out, pairs), storage_path=ctx.out / "ray_results",
                  run_name=task)
    ctx.tracker.log_artifact(ctx.run_id, outcome.checkpoint, "model")
    best = {f"best_{k}": v for k, v in _numbers(outcome.metrics).items() if k.startswith("val_")}
    last = outcome.last_metrics
    return {**best, "best_epoch": outcome.metrics.get("epoch", 0),
            "last_epoch": last.get("epoch", 0), "resumed_from": last.get("resumed_from", 0)}


def run_siamese(ctx: StageContext) -> dict[str, Any]:
    return _fit(ctx, "siamese", "siamese")


def run_label(ctx: StageContext) -> dict[str, Any]:
    from finelabel.stages.label import label_pairs

    summary = label_pairs(ctx.config, ctx.out, ctx.model_dir("siamese"))
    ctx.tracker.log_dict(ctx.run_id, summary, "label_summary.json")
    return summary


def run_train(ctx: StageContext) -> dict[str, Any]:
    return _fit(ctx, "dual", "labelled" if ctx.config.loss.beta > 0 else "train")


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    from finelabel.stages.evaluate import evaluate

    results = evaluate(ctx.config, ctx.out, ctx.model_dir("dual"),
                       mlflow={"tracking_uri": ctx.tracker.tracking_uri, "run_id": ctx.run_id})
    for name in (RESULTS_FILE, "pr_curves.png", "per_class_ap.json"):
        ctx.tracker.log_artifact(ctx.run_id, ctx.out / name)
    return flat_test_metrics(results)


def flat_test_metrics(results: dict[str, Any]) -> dict[str, float]:
    """``test_map_i2t``... for the test-vs-test protocol, ``test_map_train_at_100_i2t``..."""
    flat = {}
    for protocol, values in results["test"].items():
        prefix = "test_map" if protocol == "all" else f"test_map_{protocol}"
        flat.update({f"{prefix}_{name}": value for name, value in values.items()})
    return flat


RUNNERS: dict[str, Callable[[StageContext], dict[str, Any]]] = {
    "prepare": run_prepare, "pairs": run_pairs, "siamese": run_siamese, "label": run_label,
    "train": run_train, "evaluate": run_evaluate,
}


def run_stage(ctx: StageContext, stage: str) -> dict[str, Any]:
    """Run one stage inside ``ctx.run_id`` and record its numeric summary as metrics."""
    log.info("stage %s: %s", stage, ctx.out)
    summary = RUNNERS[stage](ctx)
    ctx.tracker.log_metrics(ctx.run_id, _numbers(summary))
    return summary


def tracked_stage(config: Config, out: str | Path, stage: str, *, on_error: str = "fail",
                  parent_run_id: str | None = None) -> dict[str, Any]:
    """One stage as its own MLflow run (the ``finelabel <stage>`` commands and jobs)."""
    tracker = Tracker.from_config(config.tracking)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with stage_run(tracker, stage, parent_run_id=parent_run_id, tags=run_tags()) as run_id:
        tracker.log_config(run_id, config)
        return run_stage(StageContext(config, out, tracker, run_id, on_error), stage)


def pipeline_stages(config: Config) -> Sequence[str]:
    """Every stage; the predecessor (beta = 0) needs no siamese net and no labels."""
    skip = {"siamese", "label"} if config.loss.beta == 0 else set()
    return [stage for stage in STAGES if stage not in skip]


def run_pipeline(config: Config, out: str | Path, *, on_error: str = "fail",
                 run_name: str | None = None) -> dict[str, Any]:
    """All stages under one parent MLflow run; return the evaluation results."""
    tracker = Tracker.from_config(config.tracking)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with pipeline_run(tracker, run_name or out.name) as parent:
        tracker.log_config(parent, config)
        for stage in pipeline_stages(config):
            with stage_run(tracker, stage, parent_run_id=parent, tags=run_tags()) as run_id:
                run_stage(StageContext(config, out, tracker, run_id, on_error), stage)
            if stage == "prepare":
                tracker.set_tags(parent, run_tags(out / MANIFEST_NAME))
        results = _results(out)
        results["mlflow"]["parent_run_id"] = parent
        (out / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        tracker.log_metrics(parent, flat_test_metrics(results))
        tracker.log_artifact(parent, out / RESULTS_FILE)
        tracker.log_artifact(parent, out / "pr_curves.png")
    return results


def _results(out: Path) -> dict[str, Any]:
    return json.loads((out / RESULTS_FILE).read_text(encoding="utf-8"))
