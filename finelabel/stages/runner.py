"""Run the stages of DESIGN.md section 3, each as an MLflow run, alone or as one pipeline.

    prepare -> pairs -> siamese -> label -> train -> evaluate

Each stage function reads and writes the run folder and returns what it did; the runner alone
records: a stage's :class:`StageOutcome` (numbers, files, tags) goes to its MLflow run. In a
pipeline, the stages are child runs of one parent. With ``loss.beta = 0`` (the predecessor's
ablation) the siamese and label stages are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finelabel.config import Config
from finelabel.metrics import flat_report
from finelabel.run_folder import RunFolder, write_json
from finelabel.stages.checks import check_stage_inputs
from finelabel.stages.pipeline_state import PipelineState, train_run_name
from finelabel.tracking import Tracker, pipeline_run, resumed_run, run_tags, stage_run
from finelabel.tracking.funnel import log_missing_steps, logged_steps, read_history
from finelabel.tracking.outage import outages_reported
from finelabel.tracking.uri import redact

log = logging.getLogger(__name__)

STAGES = ("prepare", "pairs", "siamese", "label", "train", "evaluate")


@dataclass
class StageContext:
    """What every stage gets: the config, the run folder and where it is recorded."""

    config: Config
    folder: RunFolder
    tracker: Tracker
    run_id: str
    parent_run_id: str | None = None
    on_error: str = "fail"

    def mlflow(self) -> dict[str, str | None]:
        """Where this stage is recorded, as written into the run folder's results."""
        return {"tracking_uri": redact(self.tracker.tracking_uri), "run_id": self.run_id,
                "parent_run_id": self.parent_run_id}


@dataclass
class StageOutcome:
    """What a stage did, for the runner to record: metrics, files, tags; ``report`` for the
    caller (the manifest, the MAP table)."""

    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[tuple[Path, str | None]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def numbers(summary: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a summary (booleans and text left out)."""
    return {k: float(v) for k, v in summary.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def run_prepare(ctx: StageContext) -> StageOutcome:
    from finelabel.stages.prepare import prepare

    manifest = prepare(ctx.config, ctx.folder.location, on_error=ctx.on_error)
    counts = {f"{split}_items": n for split, n in manifest["counts"].items()}
    skipped = {f"skipped_{reason}": n for reason, n in manifest["skipped"].items()}
    metrics = {**counts, **skipped, "vocab_size": manifest["vocab_size"],
               "graph_edges": manifest["graph"]["edges"], "seconds": manifest["seconds"]}
    return StageOutcome(numbers(metrics), [(ctx.folder.manifest, None)],
                        run_tags(ctx.folder.manifest), manifest)


def run_pairs(ctx: StageContext) -> StageOutcome:
    from finelabel.stages.pairs import make_pairs

    summary = make_pairs(ctx.config, ctx.folder.location)
    return StageOutcome(numbers(summary), report=summary)


def _fit(ctx: StageContext, task: str, pairs: str) -> StageOutcome:
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import fit

    train = ctx.config.siamese if task == "siamese" else ctx.config.train
    folder = ctx.folder
    job = TrainJob(task, folder.location, folder.location_of(folder.model(task)),
                   ctx.config.model, ctx.config.loss, train, ctx.tracker.tracking_uri, ctx.run_id)
    outcome = fit(job, folder.location_of(folder.pairs(pairs)),
                  storage_path=folder.location_of(folder.ray_results),
                  run_name=train_run_name(ctx.config, task))
    # Epochs MLflow missed (a lost tracking server, a killed driver) are in the history file.
    metric = job.training_task().selection_metric
    log_missing_steps(ctx.tracker, ctx.run_id, read_history(job.history_path()),
                      logged_steps(ctx.tracker, ctx.run_id, metric))
    best = {f"best_{k}": v for k, v in numbers(outcome.metrics).items() if k.startswith("val_")}
    last = outcome.last_metrics
    summary = {**best, "best_epoch": outcome.metrics.get("epoch", 0),
               "last_epoch": last.get("epoch", 0), "resumed_from": last.get("resumed_from", 0)}
    return StageOutcome(numbers(summary), [(outcome.checkpoint, "model")], report=summary)


def run_siamese(ctx: StageContext) -> StageOutcome:
    if ctx.config.label.folds <= 1:
        return _fit(ctx, "siamese", "siamese")
    from finelabel.stages.siamese_folds import fit_fold_nets

    summary = fit_fold_nets(ctx.config, ctx.folder)
    nets = ctx.folder.siamese_nets(ctx.config.label.folds)
    return StageOutcome(numbers(summary), [(net, f"model/fold-{fold}")
                                           for fold, net in enumerate(nets)], report=summary)


def run_label(ctx: StageContext) -> StageOutcome:
    from finelabel.stages.label import label_pairs

    summary = label_pairs(ctx.config, ctx.folder.location)
    summary_file = write_json(ctx.folder.label_summary, summary)
    return StageOutcome(numbers(summary), [(summary_file, None)], report=summary)


def run_train(ctx: StageContext) -> StageOutcome:
    return _fit(ctx, "dual", "labelled" if ctx.config.loss.beta > 0 else "train")


def run_evaluate(ctx: StageContext) -> StageOutcome:
    from finelabel.stages.evaluate import evaluate

    results = evaluate(ctx.config, ctx.folder.location, ctx.folder.model("dual"))
    results["mlflow"] = ctx.mlflow()
    write_json(ctx.folder.results, results)
    files = [ctx.folder.results, ctx.folder.pr_curves, ctx.folder.per_class_ap]
    metrics = {**flat_report(results["test"]), "test_queries": results["queries"]["asked"]}
    return StageOutcome(metrics, [(f, None) for f in files], report=results)


RUNNERS: dict[str, Callable[[StageContext], StageOutcome]] = {
    "prepare": run_prepare, "pairs": run_pairs, "siamese": run_siamese, "label": run_label,
    "train": run_train, "evaluate": run_evaluate,
}


def run_stage(ctx: StageContext, stage: str) -> StageOutcome:
    """Run one stage inside ``ctx.run_id`` and record what it returns; what it wrote is in
    the bucket afterwards (for a run folder on object storage), even when it failed."""
    log.info("stage %s: %s", stage, ctx.folder.location)
    try:
        outcome = RUNNERS[stage](ctx)
    finally:
        ctx.folder.publish()
    record(ctx.tracker, ctx.run_id, outcome)
    return outcome


def record(tracker: Tracker, run_id: str, outcome: StageOutcome) -> None:
    tracker.log_metrics(run_id, outcome.metrics)
    for path, artifact_path in outcome.artifacts:
        tracker.log_artifact(run_id, path, artifact_path)
    if outcome.tags:
        tracker.set_tags(run_id, outcome.tags)


@dataclass
class StageRun:
    """A stage run on its own: what it did, its run folder and its MLflow run."""

    outcome: StageOutcome
    folder: RunFolder
    run_id: str
    tracking_uri: str


def tracked_stage(config: Config, out: str | Path, stage: str, *, on_error: str = "fail",
                  parent_run_id: str | None = None) -> StageRun:
    """One stage as its own MLflow run (the ``finelabel <stage>`` commands and jobs)."""
    folder = RunFolder.at(out)
    check_stage_inputs(config, folder, stage)
    tracker = Tracker.from_config(config.tracking)
    folder.create()
    with outages_reported(tracker.tracking_uri, folder.root), stage_run(
            tracker, stage, parent_run_id=parent_run_id, tags=run_tags()) as run_id:
        tracker.log_config(run_id, config)
        ctx = StageContext(config, folder, tracker, run_id, parent_run_id, on_error)
        outcome = run_stage(ctx, stage)
    return StageRun(outcome, folder, run_id, tracker.tracking_uri)


def pipeline_stages(config: Config) -> Sequence[str]:
    """Every stage; the predecessor (beta = 0) needs no siamese net and no labels."""
    skip = {"siamese", "label"} if config.loss.beta == 0 else set()
    return [stage for stage in STAGES if stage not in skip]


@dataclass
class PipelineResult:
    """The evaluation of a pipeline's model and where everything is."""

    results: dict[str, Any]
    folder: RunFolder
    parent_run_id: str
    tracking_uri: str


def run_pipeline(config: Config, out: str | Path, *, on_error: str = "fail",
                 run_name: str | None = None) -> PipelineResult:
    """All stages under one parent MLflow run; return the evaluation results.

    Run again on the same folder, it continues (see :mod:`pipeline_state`): the same MLflow
    runs, finished stages with unchanged settings skipped, the rest resumed.
    """
    folder = RunFolder.at(out)
    check_stage_inputs(config, folder, "prepare")
    tracker = Tracker.from_config(config.tracking)
    folder.create()
    with outages_reported(tracker.tracking_uri, folder.root):
        return _pipeline(config, folder, tracker, on_error, run_name)


def _pipeline(config: Config, folder: RunFolder, tracker: Tracker, on_error: str,
              run_name: str | None) -> PipelineResult:
    state = PipelineState.read(folder, tracker.tracking_uri)
    parent_id = _existing(tracker, state.parent_run_id)
    opened = resumed_run(tracker, parent_id) if parent_id else pipeline_run(
        tracker, run_name or folder.root.name)
    with opened as parent:
        if not parent_id:
            tracker.log_config(parent, config)
            state.parent_run_id, state.stages = parent, {}
            state.save()
        rerun = False
        for stage in pipeline_stages(config):
            if not rerun and state.finished(stage, config):
                log.info("stage %s: finished earlier with these settings, kept", stage)
                continue
            rerun = True
            outcome = _run_recorded(stage, ctx_for=(config, folder, tracker, parent, on_error),
                                    state=state)
            if stage == "prepare":
                tracker.set_tags(parent, outcome.tags)
            if stage == "evaluate":
                record(tracker, parent, StageOutcome(
                    outcome.metrics, [(folder.results, None), (folder.pr_curves, None)]))
        results = state.stages["evaluate"]["report"]
    return PipelineResult(results, folder, parent, tracker.tracking_uri)


def _existing(tracker: Tracker, run_id: str | None) -> str | None:
    """``run_id`` if the store still has that run, else None."""
    if not run_id:
        return None
    try:
        tracker.client.get_run(run_id)
    except Exception:  # noqa: BLE001 - deleted, or another store: record anew
        log.warning("MLflow run %s is gone from %s; recording a new one", run_id,
                    redact(tracker.tracking_uri))
        return None
    return run_id


def _run_recorded(stage: str, *, ctx_for: tuple, state: PipelineState) -> StageOutcome:
    """Run ``stage`` in its MLflow run: the one an earlier attempt opened, or a new one."""
    config, folder, tracker, parent, on_error = ctx_for
    earlier = _existing(tracker, state.run_id(stage))
    opened = resumed_run(tracker, earlier) if earlier else stage_run(
        tracker, stage, parent_run_id=parent, tags=run_tags())
    with opened as run_id:
        state.started(stage, run_id, config)
        outcome = run_stage(StageContext(config, folder, tracker, run_id, parent, on_error), stage)
    state.done(stage, outcome.report if stage == "evaluate" else None)
    return outcome
