"""``finelabel reproduce``: the method against its ablation, its control and classical baselines,
over several seeds, with the verdict the numbers allow.

For every seed, in parallel on Ray (each training a Ray Train run): ``fglab`` (the configured
recipe with its fine-grained labels), ``ablation`` (the same with beta = 0) and ``shuffled``
(the same beta, labels permuted within each polarity). On the same split and features, once:
CCA, SCM (dot product and centred cosine of class posteriors) and a random ranking. Models are
selected on the validation split; the test split is scored once per run.

Writes ``results.json``, ``results.md`` and ``results.png`` into ``--out``; records one MLflow
parent run with a child per method and seed (and per baseline). A rerun with the same ``--out``
reuses what finished, and continues the same MLflow runs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from finelabel.config import Config
from finelabel.errors import FinelabelError
from finelabel.evaluation.baselines import BASELINES
from finelabel.evaluation.comparison import paired_difference, summary
from finelabel.metrics import flat_report
from finelabel.report.plots import plot_method_bars
from finelabel.report.tables import format_reproduce_table
from finelabel.run_folder import RunFolder, write_json
from finelabel.stages.reproduce_runs import METHODS, run_seed
from finelabel.storage import is_remote
from finelabel.tracking import STAGE_TAG, Tracker, resumed_run, run_tags, stage_run
from finelabel.tracking.funnel import read_history
from finelabel.tracking.uri import redact

log = logging.getLogger(__name__)

STATE_FILE = "reproduce.json"
RESULTS_FILE, TABLE_FILE, PLOT_FILE = "results.json", "results.md", "results.png"
DIFFERENCES = (("fglab", "ablation"), ("fglab", "shuffled"))


def reproduce(config: Config, out: str | Path, *, seeds: int = 3,
              name: str | None = None) -> dict[str, Any]:
    """Run (or finish) a reproduction in ``out``; return its results (see the module doc)."""
    from finelabel.stages.checks import check_stage_inputs

    if is_remote(out):  # its seeds' folders link to one prepared folder: links need a disk
        raise FinelabelError(f"{out}: reproduce writes to a local folder (or one every node "
                             "mounts), not to object storage; pass a path as --out")
    root = Path(out).expanduser().resolve()
    check_stage_inputs(config, root, "prepare")
    root.mkdir(parents=True, exist_ok=True)
    tracker = Tracker.from_config(config.tracking)
    state_path = root / STATE_FILE
    state = _read_state(state_path, tracker)
    opened = resumed_run(tracker, state["run_id"]) if state else stage_run(
        tracker, name or root.name, tags={**run_tags(), STAGE_TAG: "reproduce"})
    started = time.perf_counter()
    with opened as run_id:
        if not state:
            state = {"run_id": run_id, "children": {}}
            tracker.log_config(run_id, config)
            tracker.log_params(run_id, {"seeds": seeds})
            write_json(state_path, state)
        recorder = _Recorder(tracker, run_id, state, state_path)
        prepared = _prepare(config, root / "prepared", recorder)
        baselines = _baselines(config, prepared, recorder)
        per_seed = _methods(config, root, list(range(seeds)), recorder)
        results = aggregate(per_seed, baselines, seeds=list(range(seeds)),
                            split_seed=config.data.seed)
        results["seconds"] = round(time.perf_counter() - started, 1)
        results["mlflow"] = {"tracking_uri": redact(tracker.tracking_uri), "run_id": run_id}
        _write(root, results)
        tracker.log_metrics(run_id, {f"{m}_test_map_avg": r["test"]["avg"]["mean"]
                                     for m, r in results["methods"].items()})
        for path in (root / RESULTS_FILE, root / TABLE_FILE, root / PLOT_FILE):
            tracker.log_artifact(run_id, path)
    return results


def _read_state(path: Path, tracker: Tracker) -> dict[str, Any]:
    """The MLflow runs of an earlier attempt in this folder, if it was recorded in the same
    store; else nothing (a fresh parent run)."""
    import json

    if not path.is_file():
        return {}
    state = json.loads(path.read_text(encoding="utf-8"))
    try:
        tracker.client.get_run(state["run_id"])
    except Exception:  # noqa: BLE001 - another store (or a deleted run): start over in MLflow
        log.warning("%s: its MLflow run is not in %s; recording a new one", path,
                    redact(tracker.tracking_uri))
        return {}
    return state


class _Recorder:
    """The driver's MLflow writer: one child run per method and seed, reused on a rerun."""

    def __init__(self, tracker: Tracker, parent: str, state: dict, state_path: Path) -> None:
        self.tracker, self.parent, self.state, self.state_path = tracker, parent, state, state_path

    def done(self, key: str) -> bool:
        return key in self.state["children"]

    def record(self, key: str, config: Config | None, metrics: dict[str, float],
               history: list[dict] = (), tags: dict[str, str] | None = None,
               files: tuple[Path, ...] = ()) -> None:
        with stage_run(self.tracker, key, parent_run_id=self.parent,
                       tags={"finelabel.method": key.split("/")[0], **(tags or {})}) as run_id:
            if config is not None:
                self.tracker.log_config(run_id, config)
            for record in history:
                step = int(record["step"])
                self.tracker.log_metrics(run_id, {k: v for k, v in record.items()
                                                  if k != "step" and _is_number(v)}, step)
            self.tracker.log_metrics(run_id, metrics)
            for path in files:
                if path.exists():
                    self.tracker.log_artifact(run_id, path)
        self.state["children"][key] = run_id
        write_json(self.state_path, self.state)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _prepare(config: Config, path: Path, recorder: _Recorder) -> RunFolder:
    from finelabel.stages.prepare import prepare

    folder = RunFolder.at(path)
    if not folder.manifest.is_file():
        manifest = prepare(config, folder.root)
        recorder.record("prepare", config, {"vocab_size": manifest["vocab_size"],
                                            "seconds": manifest["seconds"]},
                        files=(folder.manifest,))
    return folder


def _baselines(config: Config, prepared: RunFolder, recorder: _Recorder) -> dict[str, dict]:
    """Every baseline's report, computed once (kept in ``baselines.json``)."""
    import json

    from finelabel.data.prepared import PreparedData
    from finelabel.evaluation.baselines import run_baselines

    path = prepared.root.parent / "baselines.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    reports = run_baselines(PreparedData.load(prepared.root), top_k=config.eval.top_k,
                            seed=config.data.seed, max_queries=config.eval.max_queries)
    write_json(path, reports)
    for name, report in reports.items():
        if not recorder.done(name):
            tests = {k: v for k, v in report.items() if k != "settings"}
            recorder.record(name, None, flat_report(tests),
                            tags={f"setting.{k}": str(v) for k, v in report["settings"].items()})
    return reports


def _methods(config: Config, root: Path, seeds: list[int],
             recorder: _Recorder) -> dict[int, dict[str, dict]]:
    """Run the seeds as Ray tasks, as many at a time as the cluster holds; record each as it
    finishes."""
    from finelabel.stages.concurrent import room_for, run_concurrently
    from finelabel.stages.reproduce_runs import method_config
    from finelabel.tune.search import trial_resources

    def record(args: tuple, per_method: dict[str, dict]) -> None:
        seed = args[2]
        for method, result in per_method.items():
            key = f"{method}/seed-{seed}"
            if not recorder.done(key):
                folder = Path(result["folder"])
                recorder.record(key, method_config(config, method, seed),
                                {**flat_report(result["test"]),
                                 "best_epoch": float(result["best_epoch"] or 0)},
                                history=read_history(result["history"]),
                                files=(folder / "result.json", folder / "pr_curves.png"))

    results = run_concurrently(run_seed, [(config, str(root), seed) for seed in seeds],
                               room=room_for(trial_resources(config)), on_done=record)
    return dict(zip(seeds, results))


def aggregate(per_seed: dict[int, dict[str, dict]], baselines: dict[str, dict], *,
              seeds: list[int], split_seed: int) -> dict[str, Any]:
    """``{"methods": {name: {"seeds", "test", "train_at_100"}}, "differences": {...}}``."""
    methods: dict[str, Any] = {}
    for method in METHODS:
        reports = [per_seed[s][method]["test"] for s in seeds]
        methods[method] = {"seeds": seeds, **_protocols(reports)}
    for name in BASELINES:
        methods[name] = {"seeds": [split_seed], **_protocols([baselines[name]]),
                         "settings": baselines[name]["settings"]}
    differences = {}
    for a, b in DIFFERENCES:
        differences[f"{a}-{b}"] = paired_difference(methods[a]["test"]["avg"]["values"],
                                                    methods[b]["test"]["avg"]["values"])
    return {"methods": methods, "differences": differences}


def _protocols(reports: list[dict]) -> dict[str, dict]:
    """The seeds' reports as {"test": {direction: summary}, "train_at_K": {...}}."""
    out = {}
    for protocol in reports[0]:
        if protocol == "settings":
            continue
        name = "test" if protocol == "all" else protocol
        out[name] = {d: summary([r[protocol][d] for r in reports]) for d in ("i2t", "t2i", "avg")}
    return out


def _write(root: Path, results: dict[str, Any]) -> None:
    write_json(root / RESULTS_FILE, results)
    (root / TABLE_FILE).write_text(format_reproduce_table(results) + "\n", encoding="utf-8")
    names = list(results["methods"])
    plot_method_bars({n: results["methods"][n]["test"]["avg"] for n in names},
                     root / PLOT_FILE, title=f"test MAP (avg of both directions), "
                     f"{len(results['methods']['fglab']['seeds'])} seeds")

