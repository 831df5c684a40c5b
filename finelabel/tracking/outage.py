"""A tracking server that is down: refused before any work starts, survived during a run.

- At the start, a server that does not answer its health check stops the command in one line,
  before Ray starts (:func:`check_reachable`): at once when the connection is refused, after
  :data:`HEALTH_BUDGET_S` when it is accepted but never answered.
- During a run, training goes on: rank 0's epoch metrics are kept in the run folder's history
  files whatever MLflow does (:class:`finelabel.tracking.funnel.MlflowSink` stops trying after
  its first failure). The stage then fails when it records its outcome, with a line that says
  the run folder has everything and that running the same command again, once the server is
  back, records it: finished work is reused (training resumes from its checkpoints) and the
  epochs MLflow missed are logged from the history files.
- MLflow's own retries wait about four minutes per call on a lost server; the command line
  lowers them (:data:`HTTP_RETRIES`) unless the environment sets its own.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from finelabel.errors import FinelabelError
from finelabel.tracking.uri import redact

#: MLflow client settings for a server that stops answering: fail a call in seconds.
HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
HEALTH_TIMEOUT_S = 5.0
#: How long a server that accepts the connection but answers slowly is given (a loaded machine
#: or a server just started); a refused connection fails at once.
HEALTH_BUDGET_S = 30.0


class TrackingUnavailable(FinelabelError):
    """The tracking server does not answer."""


def fail_fast_on_lost_servers() -> None:
    """Set :data:`HTTP_RETRIES` where the environment has no value of its own (entry points
    call this; Ray workers started afterwards inherit it)."""
    for key, value in HTTP_RETRIES.items():
        os.environ.setdefault(key, value)


def is_server(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def unreachable_reason(uri: str) -> str | None:
    """Why the server at ``uri`` does not answer its health check; None when it does (and
    for stores that are not servers)."""
    if not is_server(uri):
        return None
    import requests

    deadline = time.monotonic() + HEALTH_BUDGET_S
    while True:
        try:
            response = requests.get(uri.rstrip("/") + "/health", timeout=HEALTH_TIMEOUT_S)
        except requests.Timeout as error:
            if time.monotonic() + HEALTH_TIMEOUT_S > deadline:
                return type(error).__name__
            continue  # slow, not down: ask again
        except requests.RequestException as error:
            return type(error).__name__
        return None if response.ok else f"HTTP {response.status_code}"


def check_reachable(uri: str) -> None:
    """Fail now, in one line, if the tracking server does not answer."""
    reason = unreachable_reason(uri)
    if reason is not None:
        raise TrackingUnavailable(f"MLflow tracking server {redact(uri)} does not answer "
                                  f"({reason}); start it, or pass another --tracking-uri")


@contextlib.contextmanager
def outages_reported(uri: str, folder: str | Path) -> Iterator[None]:
    """Turn any failure while the tracking server is down into one line that says what is
    kept and how to record it later."""
    try:
        yield
    except TrackingUnavailable:
        raise
    except Exception as error:
        reason = unreachable_reason(uri)
        if reason is None:
            raise
        raise TrackingUnavailable(
            f"MLflow tracking server {redact(uri)} stopped answering ({reason}); the run folder "
            f"{folder} keeps the work and every epoch's metrics: run the same command again "
            "when the server is back to record them") from error
