"""The tracker: runs of one experiment in one MLflow store, addressed by explicit run ids.

Stages may log from other processes (a Ray Train rank-0 worker logs into the ``train`` run), so
everything goes through :class:`mlflow.MlflowClient` with a run id; mlflow's global active-run
state is never used. SQLite takes one writer at a time: log from one process per run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finelabel.config import Config, TrackingConfig, public_dict
from finelabel.tracking.uri import redact, resolve_tracking_uri, sqlite_dir

log = logging.getLogger(__name__)

#: MLflow's limits (mlflow.utils.validation in MLflow 3: 6000-char values, 100 params a batch).
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
#: The loss margins, also logged under these short names so runs compare by them.
SHORT_PARAMS = {"beta": "loss.beta", "margin": "loss.margin", "lam": "loss.lam"}


class Tracker:
    """Runs in one experiment of one tracking store, addressed by explicit run ids.

    Cheap to build and to pickle (it travels as its URI and experiment name), so a Ray worker
    can rebuild one and log into a run the driver started.
    """

    def __init__(self, tracking_uri: str | None = None, experiment_name: str = "finelabel"):
        from mlflow import MlflowClient  # heavy import, kept off the package import

        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.experiment_name = experiment_name
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        self._experiment_id: str | None = None

    @classmethod
    def from_config(cls, config: TrackingConfig) -> Tracker:
        return cls(config.tracking_uri, config.experiment_name)

    def __reduce__(self):
        return (Tracker, (self.tracking_uri, self.experiment_name))

    def __repr__(self) -> str:
        return f"Tracker({redact(self.tracking_uri)!r}, {self.experiment_name!r})"

    @property
    def experiment_id(self) -> str:
        """The experiment's id, created on first use (artifacts beside a SQLite file)."""
        if self._experiment_id is None:
            self._experiment_id = _get_or_create_experiment(
                self.client, self.experiment_name, sqlite_dir(self.tracking_uri))
        return self._experiment_id

    def start_run(self, name: str, *, parent_run_id: str | None = None,
                  tags: Mapping[str, Any] | None = None) -> str:
        """Start a run (a child of ``parent_run_id`` when given) and return its id."""
        all_tags = {k: str(v) for k, v in (tags or {}).items()}
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=name)
        return run.info.run_id

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log params as strings, cut to MLflow's length limit, in batches of its size."""
        from mlflow.entities import Param

        items = [Param(key, _param_value(key, value)) for key, value in params.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(run_id, params=items[start:start + PARAMS_PER_BATCH],
                                  synchronous=True)

    def log_config(self, run_id: str, config: Config) -> None:
        """Every config leaf under its dotted name, the loss margins also as ``beta``,
        ``margin``, ``lam``, and the whole config as a ``config.yaml`` artifact."""
        flat = config.flat()
        params = {**flat, **{short: flat[full] for short, full in SHORT_PARAMS.items()}}
        self.log_params(run_id, params)
        self.client.log_dict(run_id, public_dict(config), "config.yaml")

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any],
                    step: int | None = None) -> None:
        """Log numeric metrics at ``step`` (0 when None); a non-number raises TypeError."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(key, _number(key, value), now, step or 0)
                 for key, value in metrics.items()]
        for start in range(0, len(items), METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=items[start:start + METRICS_PER_BATCH],
                                  synchronous=True)

    def log_artifact(self, run_id: str, path: str | Path,
                     artifact_path: str | None = None) -> None:
        """Log a file, or a folder (under its own name unless ``artifact_path`` is given)."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(run_id, str(path), artifact_path or path.name)
        elif path.is_file():
            self.client.log_artifact(run_id, str(path), artifact_path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder to log as an artifact")

    def log_dict(self, run_id: str, obj: Any, filename: str) -> None:
        """Log ``obj`` as a JSON artifact (YAML when ``filename`` ends in .yaml/.yml)."""
        self.client.log_dict(run_id, obj, filename)

    def log_text(self, run_id: str, text: str, filename: str) -> None:
        self.client.log_text(run_id, text, filename)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, _truncate(redact(str(v)), MAX_TAG_VALUE, k)) for k, v in tags.items()]
        for start in range(0, len(items), PARAMS_PER_BATCH):
            self.client.log_batch(run_id, tags=items[start:start + PARAMS_PER_BATCH],
                                  synchronous=True)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Mark the run ended: FINISHED, FAILED or KILLED."""
        self.client.set_terminated(run_id, status)

    def reopen_run(self, run_id: str) -> None:
        """RUNNING again, without the ``error`` tag of the failure that ended it."""
        self.client.update_run(run_id, status="RUNNING")
        if "error" in self.client.get_run(run_id).data.tags:
            self.client.delete_tag(run_id, "error")


def _get_or_create_experiment(client: Any, name: str, artifact_dir: Path | None) -> str:
    """The experiment's id; safe when another process creates it at the same time."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (artifact_dir / "mlruns").as_uri() if artifact_dir else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _truncate(text: str, limit: int, key: str) -> str:
    if len(text) <= limit:
        return text
    log.warning("MLflow value of %r cut from %d to %d characters", key, len(text), limit)
    return text[:limit]


def _param_value(key: str, value: Any) -> str:
    """A param as text: containers as JSON, the rest through ``str``."""
    if isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return _truncate(redact(text), MAX_PARAM_VALUE, key)


def _number(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r} must be a number, got {value!r}") from None
