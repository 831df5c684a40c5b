"""Where a run folder lives: a local path, or a URI on object storage.

A URI has a node-local working copy under ``$FINELABEL_CACHE`` (``~/.cache/finelabel`` by
default) at a path derived from the URI alone, so every process on a node that is given the
same URI (the driver, a Train worker, a labelling actor) finds the same copy, and a node that
has none fetches its own: nothing assumes the driver's disk.

Endpoint and credentials come from the environment a user's S3 tools read
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), never
from the config file.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from finelabel.errors import FinelabelError

CACHE_ENV = "FINELABEL_CACHE"
#: The AWS SDK gives up on a request that sends nothing for 3 s, which a busy node or a loaded
#: S3-compatible server exceeds; checkpoints are worth waiting for.
S3_PATIENCE = {"connect_timeout": 10.0, "request_timeout": 60.0}
S3_TRIES = 6
#: Schemes that name the local disk rather than object storage.
LOCAL_SCHEMES = ("", "file")


def is_remote(location: str | Path) -> bool:
    """True for a URI on object storage (``s3://bucket/prefix``), False for a local path."""
    if isinstance(location, Path):
        return False
    scheme = urlsplit(str(location)).scheme
    return "://" in str(location) and scheme not in LOCAL_SCHEMES


def cache_root() -> Path:
    """This node's folder for working copies of remote run folders."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "finelabel").expanduser()


def local_path(location: str | Path) -> Path:
    """The local folder for ``location``: the path itself, or a URI's working copy."""
    if not is_remote(location):
        text = str(location)
        return Path(text.removeprefix("file://")).expanduser().resolve()
    parts = urlsplit(str(location))
    inner = [p for p in parts.path.split("/") if p not in ("", ".")]
    if ".." in inner or not parts.netloc:
        raise FinelabelError(f"{location}: a storage URI needs a bucket and a plain path "
                             "(scheme://bucket/prefix, no '..')")
    return cache_root().resolve() / "runs" / parts.scheme / parts.netloc / Path(*inner)


def join(location: str | Path, *names: str) -> str:
    """``location`` extended by ``names``, keeping a URI a URI."""
    if not is_remote(location):
        return str(Path(location).joinpath(*names))
    return "/".join([str(location).rstrip("/"), *(n.strip("/") for n in names)])


def filesystem(location: str):
    """``(pyarrow filesystem, path inside it)`` for a URI.

    S3 gets its endpoint from ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (pyarrow reads
    neither), so an S3-compatible server (MinIO, Ceph, moto) works as boto3 and the AWS CLI do.
    GCS uses Google's default credentials, or the emulator ``STORAGE_EMULATOR_HOST`` names (as
    Google's own clients do).
    """
    from pyarrow import fs

    parts = urlsplit(location)
    inside = f"{parts.netloc}{parts.path}".rstrip("/")  # bucket/key, as pyarrow names it
    if parts.scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        options = {"endpoint_override": endpoint} if endpoint else {}
        if region:
            options["region"] = region
        s3 = fs.S3FileSystem(**options, **S3_PATIENCE,
                             retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=S3_TRIES))
        return s3, inside
    if parts.scheme in ("gs", "gcs") and os.environ.get("STORAGE_EMULATOR_HOST"):
        return _gcs_emulator(os.environ["STORAGE_EMULATOR_HOST"]), inside
    try:
        return fs.FileSystem.from_uri(location)
    except (ValueError, OSError) as error:
        raise FinelabelError(f"{location}: not a storage URI pyarrow can open ({error})") from error


def _gcs_emulator(host: str):
    """A GCS emulator's filesystem: ``host`` is ``http://127.0.0.1:4443`` or ``host:port``."""
    from datetime import timedelta

    from pyarrow import fs

    parts = urlsplit(host if "://" in host else f"http://{host}")
    return fs.GcsFileSystem(endpoint_override=parts.netloc, scheme=parts.scheme, anonymous=True,
                            retry_time_limit=timedelta(seconds=S3_PATIENCE["request_timeout"]))


def ray_storage(location: str | Path) -> tuple[object | None, str]:
    """``(filesystem, path)`` as Ray's ``storage_filesystem=`` / ``filesystem=`` take them:
    ``(None, local path)`` for a local location."""
    if not is_remote(location):
        return None, str(local_path(location))
    return filesystem(str(location))
