"""The tune stage: a Ray Tune search of the loss margins (or other train settings) on a run folder.

It needs a pipeline's run folder: the prepared items and the labelled pairs, shared by every
trial. It writes ``tune/<name>/`` (Tune's experiment, each trial's Ray Train run and best model,
``results.json`` and ``trials.png``) and records one MLflow run for the search (stage tag
``tune``) with a child run per trial. Finished trials stay recorded even if the search fails.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from finelabel.config import Config, build
from finelabel.errors import FinelabelError
from finelabel.report.plots import plot_trial_curves
from finelabel.report.tables import format_rows
from finelabel.run_folder import RunFolder, write_json
from finelabel.storage import fetch, is_remote, local_path, ray_storage
from finelabel.tracking import (
    STAGE_TAG,
    Tracker,
    end_open_children,
    resumed_run,
    run_tags,
    stage_run,
)
from finelabel.tracking.uri import redact
from finelabel.tune.space import SearchSpec, check_against, load_search_spec

RESULTS_FILE = "results.json"
#: The search's MLflow run and spec, for resuming it.
STATE_FILE = "search.json"
PLOT_FILE = "trials.png"
SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"

log = logging.getLogger(__name__)


def default_search_name() -> str:
    return time.strftime("search-%Y%m%d-%H%M%S")


def search_params(spec: SearchSpec) -> dict[str, Any]:
    """The search's own settings as MLflow params: ``space.loss.beta`` = ``{'uniform': [..]}``."""
    settings = {k: v for k, v in spec.to_dict().items() if k != "space"}
    return {**{f"space.{key}": dist for key, dist in spec.space.items()},
            **{f"search.{key}": value for key, value in settings.items()}}


def check_search(config: Config, out: str | Path, space_path: str | Path,
                 name: str | None) -> SearchSpec:
    """The search's spec, checked before Ray starts: the space file against the config, or,
    for a search of that name that exists, that it can be resumed."""
    folder = RunFolder.at(out)
    search_dir = folder.search(name) if name else None
    if search_dir is not None and _exists(folder, search_dir):
        return _resumable(folder, search_dir)[0]
    spec = load_search_spec(space_path)
    check_against(spec, config, str(space_path))
    return spec


def tune_search(config: Config, out: str | Path, space_path: str | Path, *,
                name: str | None = None) -> dict[str, Any]:
    """Search ``space_path`` over the run folder ``out``; return the trials, best first.

    Given the ``name`` of a search that stopped (interrupted, or with failed trials), resume it
    instead: finished trials are kept, the others run again (each from its own latest Ray Train
    checkpoint), in the same MLflow runs. The space it started with is kept.
    """
    from finelabel.tune.search import make_tuner, restore_tuner
    from finelabel.tune.trial_runs import TrialRuns

    folder = RunFolder.at(out)
    if folder.remote is not None:
        folder.create()
    pairs = folder.pairs("labelled")
    if not pairs.exists():
        raise FinelabelError(f"{folder.location_of(pairs)}: no labelled pairs to search on; run "
                             f"the pipeline first (finelabel pipeline --config C --out "
                             f"{folder.location})")
    search_dir = folder.search(name or default_search_name())
    where = {"prepared_dir": folder.location, "pairs": folder.location_of(pairs),
             "search_dir": folder.location_of(search_dir)}
    tracker = Tracker.from_config(config.tracking)
    if _exists(folder, search_dir):
        spec, run_id = _resumable(folder, search_dir)
        log.info("resuming search %s (MLflow run %s) with the space it started with",
                 where["search_dir"], run_id)
        with resumed_run(tracker, run_id):
            # Tune restores its callbacks (the MLflow recorder included) with the search.
            tuner = restore_tuner(config, **where)
            return _search(tuner, spec, folder, search_dir, tracker, run_id)
    spec = check_search(config, folder.location, space_path, None)
    tags = run_tags(folder.manifest)
    with stage_run(tracker, search_dir.name, tags={**tags, STAGE_TAG: "tune"}) as run_id:
        search_dir.mkdir(parents=True)
        write_json(search_dir / STATE_FILE, {"mlflow_run_id": run_id, "spec": spec.to_dict()})
        folder.publish(search_dir / STATE_FILE)
        tracker.log_config(run_id, config)
        tracker.log_params(run_id, search_params(spec))
        tracker.log_artifact(run_id, space_path)
        trial_runs = TrialRuns(tracker, run_id, config, max_epochs=config.train.epochs,
                               search_dir=where["search_dir"], tags=tags)
        tuner = make_tuner(config, spec, **where, callbacks=(trial_runs,))
        return _search(tuner, spec, folder, search_dir, tracker, run_id)


def _exists(folder: RunFolder, search_dir: Path) -> bool:
    """Whether a search of that name was started (its state file, fetched from the bucket)."""
    folder.fetch(search_dir / STATE_FILE)
    return search_dir.exists()


def _resumable(folder: RunFolder, search_dir: Path) -> tuple[SearchSpec, str]:
    """The spec and MLflow run of the search in ``search_dir``, or an error saying what to do."""
    from ray import tune

    state = search_dir / STATE_FILE
    filesystem, path = ray_storage(folder.location_of(search_dir))
    if not state.is_file() or not tune.Tuner.can_restore(path, storage_filesystem=filesystem):
        raise FinelabelError(f"{folder.location_of(search_dir)}: exists but holds no search to "
                             "resume; pass another --name")
    saved = json.loads(state.read_text(encoding="utf-8"))
    return build(SearchSpec, saved["spec"], str(state)), saved["mlflow_run_id"]


def _search(tuner, spec: SearchSpec, folder: RunFolder, search_dir: Path, tracker: Tracker,
            run_id: str) -> dict[str, Any]:
    """Run the search; write its results and trials plot into ``search_dir``; record them."""
    from finelabel.tune.search import summarise, trial_curves

    try:
        with _interrupts_raise():
            grid = tuner.fit()
    except KeyboardInterrupt:
        # Tune saved the search's state as it went; no trial is left RUNNING in MLflow.
        end_open_children(tracker, run_id, "KILLED", "interrupted (Ctrl-C)")
        raise
    summary = summarise(grid, spec, folder.location_of(search_dir))
    summary["mlflow"] = {"tracking_uri": redact(tracker.tracking_uri), "run_id": run_id}
    summary["search_dir"] = folder.location_of(search_dir)
    write_json(search_dir / RESULTS_FILE, summary)
    curves = trial_curves(grid, spec.metric)
    if curves:
        labels = {t["trial_id"]: trial_label(t) for t in summary["trials"]}
        best = labels[summary["best"]["trial_id"]] if summary["best"] else None
        plot_trial_curves({labels.get(k, k): v for k, v in curves.items()},
                          search_dir / PLOT_FILE, metric=spec.metric, best=best,
                          title=f"{search_dir.name}: {len(curves)} trials")
    folder.publish(search_dir / RESULTS_FILE)
    folder.publish(search_dir / PLOT_FILE)
    _record(tracker, run_id, summary, search_dir)
    return summary


@contextlib.contextmanager
def _interrupts_raise():
    """Let Ctrl-C raise KeyboardInterrupt out of ``Tuner.fit``.

    Tune's own handler would end the search quietly, report the unfinished trials as done and
    print a ``Tuner.restore`` hint that is not how finelabel resumes (run again by --name).
    Tune saves the search's state as it goes, so nothing is lost.
    """
    before = os.environ.get(SIGINT_ENV)
    os.environ[SIGINT_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(SIGINT_ENV, None)
        else:
            os.environ[SIGINT_ENV] = before


def trial_label(trial: dict[str, Any]) -> str:
    """``00002 beta=0.107 margin=0.6``: the trial's number and values, for a legend."""
    values = " ".join(f"{key.rsplit('.', 1)[-1]}={_short(value)}"
                      for key, value in sorted(trial["params"].items()))
    return f"{trial['trial_id'].rsplit('_', 1)[-1]} {values}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _record(tracker: Tracker, run_id: str, summary: dict[str, Any], search_dir: Path) -> None:
    """The search's outcome on its MLflow run; no trial finishing an epoch fails the search."""
    tracker.log_artifact(run_id, search_dir / RESULTS_FILE)
    if (search_dir / PLOT_FILE).is_file():
        tracker.log_artifact(run_id, search_dir / PLOT_FILE)
    failed = sum(t["status"] == "ERROR" for t in summary["trials"])
    tracker.log_metrics(run_id, {"trials": len(summary["trials"]), "trials_failed": failed})
    best = summary["best"]
    if best is None:
        raise FinelabelError(f"{search_dir}: no trial reported {summary['metric']}; "
                             f"{failed} failed (see {search_dir / RESULTS_FILE})")
    tracker.log_metrics(run_id, {f"best_{summary['metric']}": best["best_score"]})
    tracker.set_tags(run_id, {"best_trial": best["trial_id"],
                              **{f"best.{k}": v for k, v in best["params"].items()}})
    if is_remote(best["model_dir"]):  # written by the best trial's rank 0, on any node
        fetch(best["model_dir"])
    tracker.log_artifact(run_id, local_path(best["model_dir"]), "best_model")


def format_trials(summary: dict[str, Any]) -> str:
    """The trials as a text table, best first."""
    keys = sorted({k for t in summary["trials"] for k in t["params"]})
    return format_rows([{"trial": t["trial_id"], **{k: t["params"].get(k) for k in keys},
                         "epochs": t["epochs"], summary["metric"]: t["best_score"],
                         "status": t["status"]} for t in summary["trials"]])
