"""The one place that talks to MLflow: where runs go, the tracker, run lifecycle, provenance,
reading runs back, and the metrics funnel of the training loop."""

from finelabel.tracking.compare import compare_runs, find_child_runs
from finelabel.tracking.provenance import git_commit, run_tags
from finelabel.tracking.runs import (
    STAGE_TAG,
    end_open_children,
    error_line,
    pipeline_run,
    resumed_run,
    stage_run,
)
from finelabel.tracking.tracker import Tracker
from finelabel.tracking.uri import resolve_tracking_uri

__all__ = [
    "STAGE_TAG",
    "Tracker",
    "compare_runs",
    "end_open_children",
    "error_line",
    "find_child_runs",
    "git_commit",
    "pipeline_run",
    "resolve_tracking_uri",
    "resumed_run",
    "run_tags",
    "stage_run",
]
