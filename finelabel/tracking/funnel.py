"""The metrics funnel: one path for a training loop's metrics to every sink (STYLE.md, 6).

The loop calls ``funnel.report(metrics, step)`` and has no per-sink branches. Only rank 0 adds
an :class:`MlflowSink` (SQLite stores want one writer).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from finelabel.tracking.tracker import Tracker

log = logging.getLogger(__name__)

#: A metrics sink: ``sink(metrics, step)``; Ray's ``report`` wrapped this way is one too.
Sink = Callable[[Mapping[str, float], int], None]


class MetricsFunnel:
    """The one path metrics take out of a training loop: ``report`` forwards to every sink.

    The loop calls ``funnel.report(metrics, step)`` and has no per-sink branches. Rank 0 builds
    the funnel with an :class:`MlflowSink` (SQLite takes one writer); other ranks leave it out.
    A Ray sink (``lambda m, step: ray.train.report(m)``) goes on every rank, since Ray's
    ``report`` is a barrier.
    """

    def __init__(self, sinks: Sequence[Sink] = ()):
        self.sinks: list[Sink] = list(sinks)

    def add(self, sink: Sink) -> MetricsFunnel:
        self.sinks.append(sink)
        return self

    def report(self, metrics: Mapping[str, float], step: int) -> None:
        for sink in self.sinks:
            sink(metrics, step)


class MlflowSink:
    """Logs each report into one run by id; build it on rank 0 only.

    A tracking store that fails does not stop training: the sink warns once and stops trying
    (a :class:`HistorySink` beside it keeps every report; :func:`log_missing_steps` records
    them when the stage runs again).
    """

    def __init__(self, tracker: Tracker, run_id: str):
        self.tracker = tracker
        self.run_id = run_id
        self.lost = False

    def __call__(self, metrics: Mapping[str, float], step: int) -> None:
        if self.lost:
            return
        try:
            self.tracker.log_metrics(self.run_id, metrics, step)
        except Exception as error:  # noqa: BLE001 - any store failure; training goes on
            self.lost = True
            log.warning("MLflow stopped taking this run's metrics (%s: %s); training goes on, "
                        "its epochs stay in the run folder's history", type(error).__name__,
                        str(error).splitlines()[0][:200] if str(error) else "")


def logged_steps(tracker: Tracker, run_id: str, key: str) -> set[int]:
    """The steps of metric ``key`` that run ``run_id`` holds."""
    return {int(m.step) for m in tracker.client.get_metric_history(run_id, key)}


def log_missing_steps(tracker: Tracker, run_id: str, records: list[dict[str, Any]],
                      logged: set[int], *, before: int | None = None) -> set[int]:
    """Log each history record (:func:`read_history`) whose step is not in ``logged`` (and
    is below ``before``, when given); return ``logged`` with them added."""
    for record in records:
        step = int(record["step"])
        if step in logged or (before is not None and step >= before):
            continue
        tracker.log_metrics(run_id, {k: v for k, v in record.items()
                                     if k != "step" and _is_number(v)}, step)
        logged.add(step)
    return logged


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class HistorySink:
    """Appends each report as a JSON line to a file in the run folder: a run's metrics stay
    with it whether or not a tracking server is there to take them."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __call__(self, metrics: Mapping[str, float], step: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"step": step, **metrics}) + "\n")


def read_history(path: str | Path) -> list[dict[str, float]]:
    """The reports of a :class:`HistorySink` file, one per step (a step redone after a
    restart keeps its last report), in step order; [] if there is none."""
    path = Path(path)
    if not path.is_file():
        return []
    by_step = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_step[int(record["step"])] = record
    return [by_step[step] for step in sorted(by_step)]


class PrintSink:
    """One progress line per report (``step 3 | loss=0.512 val_map_avg=0.431``).

    Prints to stdout (flushed: Ray job logs are not a terminal) or to ``logger`` when given.
    """

    def __init__(self, prefix: str = "", logger: logging.Logger | None = None):
        self.prefix = prefix
        self.logger = logger

    def format(self, metrics: Mapping[str, float], step: int) -> str:
        values = " ".join(f"{key}={_short(value)}" for key, value in metrics.items())
        head = f"{self.prefix} step {step}" if self.prefix else f"step {step}"
        return f"{head} | {values}"

    def __call__(self, metrics: Mapping[str, float], step: int) -> None:
        line = self.format(metrics, step)
        if self.logger is not None:
            self.logger.info("%s", line)
        else:
            print(line, flush=True)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
