"""Reading runs back: a stage's children, and a table of runs for ``finelabel compare``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from finelabel.errors import ConfigError
from finelabel.tracking.uri import resolve_tracking_uri

DEFAULT_COLUMNS = ("run_name", "run_id", "status", "tags.finelabel.stage", "parent",
                   "params.beta", "params.margin", "params.lam", "metrics.best_val_map_avg",
                   "metrics.test_map_i2t", "metrics.test_map_t2i", "metrics.test_map_avg")
_RUN_ID = re.compile(r"[0-9A-Za-z_-]+")
PARENT_TAG = "mlflow.parentRunId"
#: How to write a filter MLflow accepts; said with every filter it refuses.
FILTER_HINT = ("params are text, compared with = != LIKE and quotes (params.beta = '0.3'); "
               "metrics are numbers (metrics.test_map_avg > 0.25); tags as params "
               "(tags.`finelabel.stage` = 'pipeline')")


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
                 columns: Sequence[str] = DEFAULT_COLUMNS, *,
                 all_runs: bool = False) -> list[dict[str, Any]]:
    """One row per run: ``run_name``/``run_id``/``status``/``parent`` and ``params.X``/
    ``metrics.X``/``tags.X`` columns, keyed by their short name (``beta``, ``test_map_avg``,
    ``finelabel.stage``); None if absent. Runs without the ordering metric come last.

    Only top-level runs (pipelines, searches) unless ``all_runs``: their stage and trial runs
    are one filter away (``tags.mlflow.parentRunId = '<id>'``). A search's row shows the values
    of its best trial in the param columns.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        raise ConfigError(f"{uri}: no MLflow experiment named {experiment_name!r}; "
                          "run a pipeline first or name another experiment")
    keys = [column.split(".", 1)[-1] for column in columns]
    if len(set(keys)) != len(keys):
        raise ValueError(f"columns {list(columns)} repeat a short name")
    try:
        runs = _search_all(client, [experiment.experiment_id], filter_string, list(order_by))
    except MlflowException as error:
        message = str(error.message if hasattr(error, "message") else error).splitlines()[0]
        raise ConfigError(f"MLflow refused --filter {filter_string!r} / --order-by "
                          f"{', '.join(order_by)!r}: {message[:300]}; {FILTER_HINT}") from None
    if not (all_runs or PARENT_TAG in filter_string):
        runs = [run for run in runs if PARENT_TAG not in run.data.tags]
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
        best = run.data.tags.get(f"best.loss.{key}")  # a search: its best trial's value
        return best if best is not None else run.data.params.get(key)
    if kind == "metrics":
        return run.data.metrics.get(key)
    if kind == "tags":
        return run.data.tags.get(key)
    if column == "run_name":
        return run.info.run_name
    if column == "parent":
        return run.data.tags.get(PARENT_TAG)
    if column in ("run_id", "status", "start_time", "end_time", "experiment_id"):
        return getattr(run.info, column)
    raise ValueError(f"unknown column {column!r}: use run_name, run_id, status, parent, "
                     "start_time, end_time, or params.X / metrics.X / tags.X")
