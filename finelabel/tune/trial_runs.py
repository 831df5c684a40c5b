"""Record every Tune trial as an MLflow child run of the search's run, from the Tune driver.

The driver is the only writer (SQLite stores take one at a time), and it sees every trial: its
values, each epoch's metrics, how it ended. Each trial run carries the whole resolved config as
params (``beta``, ``margin``, ``lam`` by name too), so ``finelabel compare`` and the MLflow UI
put trials side by side with pipeline runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ray.tune import Callback

from finelabel.config import Config
from finelabel.storage import fetch, is_remote
from finelabel.tracking import STAGE_TAG, Tracker, find_child_runs
from finelabel.tracking.funnel import log_missing_steps, logged_steps, read_history
from finelabel.train.job import history_location, history_path
from finelabel.tune.trial import error_summary, trial_config, trial_model_dir

log = logging.getLogger(__name__)

#: Result keys that are the training loop's own metrics (Tune adds its bookkeeping beside them).
METRIC_PREFIXES = ("val_", "train_", "best_", "lr", "pairs_per_s", "resumed_from")


def trial_metrics(result: dict[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in result.items()
            if key.startswith(METRIC_PREFIXES) and isinstance(value, (int, float))
            and not isinstance(value, bool)}


class TrialRuns(Callback):
    """A Tune callback: one MLflow run per trial under ``parent_run_id``."""

    def __init__(self, tracker: Tracker, parent_run_id: str, base: Config, *,
                 max_epochs: int, search_dir: str, tags: dict[str, str] | None = None) -> None:
        self.tracker, self.parent_run_id, self.base = tracker, parent_run_id, base
        self.max_epochs, self.tags = max_epochs, dict(tags or {})
        self.search_dir = search_dir
        self.runs: dict[str, str] = {}  # trial id -> MLflow run id
        self.logged: dict[str, set[int]] = {}  # trial id -> epochs in its MLflow run

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        run_id = self.runs.get(trial.trial_id) or self._recorded_run(trial.trial_id)
        if run_id is not None:  # a trial restarted (or its search resumed) keeps its run
            self.tracker.reopen_run(run_id)
            self.runs[trial.trial_id] = run_id
            return
        run_id = self.tracker.start_run(trial.trial_id, parent_run_id=self.parent_run_id,
                                        tags={STAGE_TAG: "trial", "trial_id": trial.trial_id,
                                              **self.tags})
        self.tracker.log_config(run_id, trial_config(self.base, trial.config))
        self.runs[trial.trial_id] = run_id

    def _recorded_run(self, trial_id: str) -> str | None:
        """The run an earlier attempt of this search made for ``trial_id``, if any."""
        for run in find_child_runs(self.tracker.tracking_uri, self.parent_run_id):
            if run.info.run_name == trial_id:
                return run.info.run_id
        return None

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info) -> None:
        run_id = self.runs.get(trial.trial_id)
        if run_id is None:
            return
        epoch = int(result["epoch"])
        if int(result.get("resumed_from", 0)) > 0:
            self._backfill(trial.trial_id, run_id, before=epoch)
        self.tracker.log_metrics(run_id, trial_metrics(result), step=epoch)
        self.logged.setdefault(trial.trial_id, set()).add(epoch)

    def _backfill(self, trial_id: str, run_id: str, *, before: int) -> None:
        """Log the epochs a resumed trial does not run again but MLflow never got: a driver
        killed after Ray Train kept an epoch's checkpoint and before this callback logged the
        epoch. Rank 0's history file beside the trial's model has every epoch it ran."""
        if trial_id not in self.logged:
            self.logged[trial_id] = logged_steps(self.tracker, run_id, "val_map_avg")
        model_dir = trial_model_dir(self.search_dir, trial_id)
        if is_remote(model_dir):  # rank 0 publishes it each epoch, from whichever node
            fetch(history_location(model_dir))
        history = read_history(history_path(model_dir))
        log_missing_steps(self.tracker, run_id, history, self.logged[trial_id], before=before)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        run_id = self.runs.get(trial.trial_id)
        if run_id is None:
            return
        epochs = int((trial.last_result or {}).get("epoch", 0))
        self.tracker.set_tags(run_id, {"epochs_run": epochs,
                                       "stopped_early": str(epochs < self.max_epochs).lower()})
        self.tracker.end_run(run_id, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        run_id = self.runs.get(trial.trial_id)
        if run_id is None:
            return
        self.tracker.set_tags(run_id, {"error": _error_tag(trial), "trial_path": trial.path})
        self.tracker.end_run(run_id, "FAILED")


def _error_tag(trial) -> str:
    """The trial's error, one line (Tune keeps the whole traceback in the trial folder).

    Tune writes the error into the driver's staging folder first and copies it to the trial's
    storage later; with storage in a bucket, reading it back from there comes too early.
    """
    return error_summary(_local_error(trial) or _stored_error(trial)) or \
        "the trial failed; see its folder"


def _local_error(trial) -> object | None:
    import cloudpickle

    for path, load in ((trial.pickled_error_file, cloudpickle.load),
                       (trial.error_file, lambda f: f.read().decode("utf-8", "replace"))):
        if path and Path(path).is_file():
            try:
                with open(path, "rb") as f:
                    return load(f)
            except Exception:  # noqa: BLE001 - a partial file: try the next form
                continue
    return None


def _stored_error(trial) -> object | None:
    try:
        return trial.get_pickled_error() or trial.get_error()
    except Exception:  # noqa: BLE001 - the tag is a convenience; the folder has the rest
        return None
