"""Run lifecycle: a run ends FINISHED, or FAILED with its error, or KILLED when interrupted.

A pipeline is one parent run with one child run per stage.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from finelabel.tracking.provenance import run_tags
from finelabel.tracking.tracker import Tracker

log = logging.getLogger(__name__)

STAGE_TAG = "finelabel.stage"


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


def end_open_children(tracker: Tracker, parent_run_id: str, status: str, reason: str) -> None:
    """End every child run of ``parent_run_id`` still RUNNING with ``status`` and ``reason``."""
    from finelabel.tracking.compare import find_child_runs

    for run in find_child_runs(tracker.tracking_uri, parent_run_id):
        if run.info.status == "RUNNING":
            tracker.set_tags(run.info.run_id, {"error": reason})
            _end_quietly(tracker, run.info.run_id, status)
