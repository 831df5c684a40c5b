"""The one place that talks to MLflow: runs, params, metrics, artifacts, and the metrics funnel.

A pipeline is one parent run with one child run per stage. Stages may log from other processes
(a Ray Train rank-0 worker logs into the ``train`` run), so everything here takes an explicit run
id and goes through :class:`mlflow.MlflowClient`; mlflow's global active-run state is never used.
SQLite takes one writer at a time: log from one process per run (rank 0, the Tune driver).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import subprocess
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from finelabel.config import Config, TrackingConfig
from finelabel.data.manifest import sha256_file
from finelabel.errors import ConfigError

log = logging.getLogger(__name__)

#: MLflow's limits (mlflow.utils.validation in MLflow 3: 6000-char values, 100 params a batch).
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
PARAMS_PER_BATCH = 100
METRICS_PER_BATCH = 1000
#: The loss margins, also logged under these short names so runs compare by them.
SHORT_PARAMS = {"beta": "loss.beta", "margin": "loss.margin", "lam": "loss.lam"}
STAGE_TAG = "finelabel.stage"
GIT_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- tracking URI


def resolve_tracking_uri(flag: str | None = None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///<cwd>/mlflow.db``.

    Local stores are made absolute, because Ray workers and Tune trials run in other folders;
    a bare path names a SQLite file. Server URIs (http, https, databases) pass through.
    """
    uri = flag or os.environ.get("MLFLOW_TRACKING_URI") or "mlflow.db"
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        return _absolute_sqlite(uri)
    if scheme == "file":
        return Path(urlparse(uri).path).expanduser().resolve().as_uri()
    if scheme:
        return uri
    path = Path(uri).expanduser()
    if path.is_dir():
        raise ConfigError(f"tracking URI {uri!r} is a folder: name a SQLite file such as "
                          f"{path / 'mlflow.db'} or pass sqlite:///{path / 'mlflow.db'}")
    return f"sqlite:///{path.resolve()}"


def _absolute_sqlite(uri: str) -> str:
    """``sqlite:///x.db`` (relative to cwd) -> ``sqlite:////abs/x.db``; keeps ``?query``."""
    rest = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    if not rest or rest.startswith("/") or rest.startswith(":memory:"):
        return uri
    path, sep, query = rest.partition("?")
    return f"sqlite:///{Path(path).expanduser().resolve()}{sep}{query}"


def _sqlite_dir(uri: str) -> Path | None:
    """The folder of a SQLite store's file, where its artifacts go; None for other stores."""
    if not uri.startswith("sqlite:////"):
        return None
    return Path(uri[len("sqlite:///"):].partition("?")[0]).parent


# --------------------------------------------------------------------------- the tracker


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
        return f"Tracker({self.tracking_uri!r}, {self.experiment_name!r})"

    @property
    def experiment_id(self) -> str:
        """The experiment's id, created on first use (artifacts beside a SQLite file)."""
        if self._experiment_id is None:
            self._experiment_id = _get_or_create_experiment(
                self.client, self.experiment_name, _sqlite_dir(self.tracking_uri))
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
        self.client.log_dict(run_id, config.to_dict(), "config.yaml")

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

        items = [RunTag(k, _truncate(str(v), MAX_TAG_VALUE, k)) for k, v in tags.items()]
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
    return _truncate(text, MAX_PARAM_VALUE, key)


def _number(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {key!r} must be a number, got {value!r}") from None


# --------------------------------------------------------------------------- run lifecycle


@contextlib.contextmanager
def stage_run(tracker: Tracker, name: str, *, parent_run_id: str | None = None,
              tags: Mapping[str, Any] | None = None) -> Iterator[str]:
    """Yield a new run's id; end it FINISHED, or FAILED with the error recorded, and re-raise.

    The error goes to the tag ``error`` (one line) and the artifact ``error.txt`` (traceback).
    An interrupt (KeyboardInterrupt, SystemExit) ends the run KILLED.
    """
    run_id = tracker.start_run(name, parent_run_id=parent_run_id,
                               tags={STAGE_TAG: name, **(tags or {})})
    with _ended(tracker, run_id):
        yield run_id


@contextlib.contextmanager
def resumed_run(tracker: Tracker, run_id: str) -> Iterator[str]:
    """Reopen an ended run (RUNNING again, its old ``error`` tag removed); end it as
    :func:`stage_run` does. For work that resumes where it stopped, in the same run."""
    tracker.reopen_run(run_id)
    with _ended(tracker, run_id):
        yield run_id


@contextlib.contextmanager
def _ended(tracker: Tracker, run_id: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        _record_failure(tracker, run_id, error)
        raise
    except BaseException:
        _end_quietly(tracker, run_id, "KILLED")
        raise
    tracker.end_run(run_id, "FINISHED")


@contextlib.contextmanager
def pipeline_run(tracker: Tracker, name: str, *, tags: Mapping[str, Any] | None = None,
                 manifest_path: str | Path | None = None) -> Iterator[str]:
    """The parent run of a pipeline, tagged with :func:`run_tags`; stages nest under its id."""
    all_tags = {**run_tags(manifest_path), **(tags or {})}
    with stage_run(tracker, name, tags={STAGE_TAG: "pipeline", **all_tags}) as run_id:
        yield run_id


def _record_failure(tracker: Tracker, run_id: str, error: BaseException) -> None:
    """Tag, attach and end the run FAILED; a tracking error here never hides ``error``."""
    try:
        tracker.set_tags(run_id, {"error": error_line(error)})
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        tracker.log_text(run_id, text, "error.txt")
    except Exception:  # noqa: BLE001 - the stage's own error is the one to raise
        log.exception("could not record the failure of MLflow run %s", run_id)
    _end_quietly(tracker, run_id, "FAILED")


def _end_quietly(tracker: Tracker, run_id: str, status: str) -> None:
    try:
        tracker.end_run(run_id, status)
    except Exception:  # noqa: BLE001 - keep the original exception in flight
        log.exception("could not mark MLflow run %s %s", run_id, status)


def error_line(error: BaseException) -> str:
    """``"ValueError: first line of the message"``, short enough for a tag."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text[:500]


# --------------------------------------------------------------------------- provenance


def git_commit(path: str | Path | None = None) -> str | None:
    """The HEAD commit of the checkout holding ``path`` (this file's), or None.

    A job's working dir, as ``ray job submit`` ships it, has no ``.git``: pass the commit in
    ``FINELABEL_GIT_COMMIT`` (runtime env ``env_vars``) and it is used instead.
    """
    if os.environ.get("FINELABEL_GIT_COMMIT"):
        return os.environ["FINELABEL_GIT_COMMIT"]
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        done = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def run_tags(manifest_path: str | Path | None = None,
             code_path: str | Path | None = None) -> dict[str, str]:
    """Code version (git commit, when in a checkout; finelabel version) and manifest hash."""
    from finelabel import __version__

    tags = {"finelabel_version": __version__}
    commit = git_commit(code_path)
    if commit:
        tags["git_commit"] = commit
        tags["mlflow.source.git.commit"] = commit
    if manifest_path is not None:
        tags["manifest_sha256"] = sha256_file(manifest_path)
    return tags


# --------------------------------------------------------------------------- reading runs

DEFAULT_COLUMNS = ("run_name", "run_id", "status", "params.beta", "params.margin", "params.lam",
                   "metrics.val_map_avg", "metrics.best_val_map_avg", "metrics.test_map_i2t",
                   "metrics.test_map_t2i", "metrics.test_map_avg")
_RUN_ID = re.compile(r"[0-9A-Za-z_-]+")


def find_child_runs(tracking_uri: str | None, parent_run_id: str) -> list[Any]:
    """The child runs of ``parent_run_id`` (mlflow ``Run`` objects), oldest first."""
    from mlflow import MlflowClient

    if not _RUN_ID.fullmatch(parent_run_id):
        raise ValueError(f"not an MLflow run id: {parent_run_id!r}")
    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    experiment_id = client.get_run(parent_run_id).info.experiment_id
    return _search_all(client, [experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'",
                       ["attributes.start_time ASC"])


def compare_runs(tracking_uri: str | None, experiment_name: str, filter_string: str = "",
                 order_by: Sequence[str] = ("metrics.test_map_avg DESC",),
                 columns: Sequence[str] = DEFAULT_COLUMNS) -> list[dict[str, Any]]:
    """One row per run: ``run_name``/``run_id``/``status`` and ``params.X``/``metrics.X``/
    ``tags.X`` columns, keyed by their short name (``beta``, ``test_map_avg``); None if absent.
    Runs without the ordering metric come last."""
    from mlflow import MlflowClient

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise ConfigError(f"{uri}: no MLflow experiment named {experiment_name!r}; "
                          "run a pipeline first or name another experiment")
    keys = [column.split(".", 1)[-1] for column in columns]
    if len(set(keys)) != len(keys):
        raise ValueError(f"columns {list(columns)} repeat a short name")
    runs = _search_all(client, [experiment.experiment_id], filter_string, list(order_by))
    pairs = list(zip(keys, columns, strict=True))
    return [{key: _cell(run, column) for key, column in pairs} for run in runs]


def _search_all(client: Any, experiment_ids: list[str], filter_string: str,
                order_by: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string, order_by=order_by,
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _cell(run: Any, column: str) -> Any:
    kind, _, key = column.partition(".")
    if kind == "params":
        return run.data.params.get(key)
    if kind == "metrics":
        return run.data.metrics.get(key)
    if kind == "tags":
        return run.data.tags.get(key)
    if column == "run_name":
        return run.info.run_name
    if column in ("run_id", "status", "start_time", "end_time", "experiment_id"):
        return getattr(run.info, column)
    raise ValueError(f"unknown column {column!r}: use run_name, run_id, status, start_time, "
                     "end_time, or params.X / metrics.X / tags.X")
