"""Where MLflow records go: ``--tracking-uri``, ``MLFLOW_TRACKING_URI`` or a local SQLite file."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

from finelabel.errors import ConfigError


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


def sqlite_dir(uri: str) -> Path | None:
    """The folder of a SQLite store's file, where its artifacts go; None for other stores."""
    if not uri.startswith("sqlite:////"):
        return None
    return Path(uri[len("sqlite:///"):].partition("?")[0]).parent


#: ``scheme://user:password@host``: the password part of a URI's user info.
_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/@:\s]*:)(?P<secret>[^/@\s]+)@")


def redact(text: str) -> str:
    """``text`` with the password of every URI in it replaced by ``***``: tracking URIs such
    as ``postgresql://user:secret@db/mlflow`` may be printed and recorded, their secret not."""
    return _PASSWORD.sub(lambda m: f"{m.group('head')}***@", text)
