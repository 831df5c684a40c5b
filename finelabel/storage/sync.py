"""Mirror a run folder between object storage and its local working copy.

A file is copied when it is missing on the other side, or its size or modification time
differ; after a copy both sides carry the object's time, so an unchanged file is never copied
twice and no record of earlier copies is kept. Object stores keep times to the second, so a
file uploaded again within the second of its last upload is uploaded once more a second later:
every upload of a name has a time of its own, and a reader never mistakes a new version for
the one it holds. Downloads land under a temporary name and are renamed, so processes on one
node that fetch the same folder at once never see half a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from finelabel.errors import FinelabelError
from finelabel.storage.locations import filesystem, local_path

log = logging.getLogger(__name__)

#: Parallel transfers (object stores reward several requests in flight).
TRANSFER_THREADS = 8
#: Names still being written (``replacing``'s temporaries, downloads in flight): never copied.
PARTIAL_SUFFIXES = (".tmp",)
PARTIAL_MARK = ".part-"


@dataclass
class Transfer:
    """What one fetch or publish copied and removed."""

    files: int = 0
    bytes: int = 0
    removed: int = 0


def fetch(uri: str, local: str | Path | None = None, *, skip: Iterable[str] = ()) -> Transfer:
    """Make ``local`` (default: the URI's working copy) a copy of the file or folder at ``uri``.

    ``skip``: top-level names (folders Ray writes straight to storage) left alone on both sides.
    A folder that does not exist at ``uri`` empties ``local``: the remote is the run folder.
    """
    fs, root = filesystem(uri)
    local = Path(local) if local is not None else local_path(uri)
    with _storage_errors(uri):
        remote = _remote_files(fs, root, set(skip))
        here = _local_files(local, set(skip))
        todo = [rel for rel, info in remote.items() if not _same(here.get(rel), info)]
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            sizes = list(pool.map(lambda rel: _download(fs, remote[rel], _under(local, rel)),
                                  todo))
    stale = [rel for rel in here if rel not in remote]
    for rel in stale:
        _under(local, rel).unlink(missing_ok=True)
    if todo or stale:
        log.info("fetched %d files (%.1f MB) from %s", len(todo), sum(sizes) / 1e6, uri)
    return Transfer(len(todo), sum(sizes), len(stale))


def publish(local: str | Path, uri: str, *, skip: Iterable[str] = ()) -> Transfer:
    """Copy ``local`` (a file or a folder) to ``uri``; a missing ``local`` file removes it.

    An object is removed only where ``local`` holds its folder (a folder replaced here is
    mirrored exactly); a folder this copy never held (a model another node published) is
    left alone.
    """
    fs, root = filesystem(uri)
    local = Path(local)
    with _storage_errors(uri):
        remote = _remote_files(fs, root, set(skip))
        here = _local_files(local, set(skip))
        todo = [rel for rel, stat in here.items() if not _same(stat, remote.get(rel))]
        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            sizes = list(pool.map(lambda rel: _upload(fs, _under(local, rel), _join(root, rel),
                                                      remote.get(rel)), todo))
        stale = [rel for rel in remote if rel not in here and _held(local, rel)]
        for rel in stale:
            fs.delete_file(_join(root, rel))
    if todo or stale:
        log.info("published %d files (%.1f MB) to %s", len(todo), sum(sizes) / 1e6, uri)
    return Transfer(len(todo), sum(sizes), len(stale))


def _remote_files(fs, root: str, skip: set[str]) -> dict[str, object]:
    """Relative path -> FileInfo of every file at ``root`` ('' for a single file)."""
    from pyarrow.fs import FileSelector, FileType

    top = fs.get_file_info(root)
    if top.type == FileType.File:
        return {"": top}
    if top.type == FileType.NotFound:
        return {}
    files = {}
    for info in fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        rel = info.path[len(root):].lstrip("/")
        if info.type == FileType.File and _wanted(rel, skip):
            files[rel] = info
    return files


def _local_files(local: Path, skip: set[str]) -> dict[str, os.stat_result]:
    if local.is_file():
        return {"": local.stat()}
    if not local.is_dir():
        return {}
    return {path.relative_to(local).as_posix(): path.stat() for path in local.rglob("*")
            if path.is_file() and _wanted(path.relative_to(local).as_posix(), skip)}


def _held(local: Path, rel: str) -> bool:
    """Whether this copy holds the folder of ``rel`` ('' is ``local`` itself)."""
    return not rel or _under(local, rel).parent.is_dir()


def _wanted(rel: str, skip: set[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    partial = PARTIAL_MARK in name or any(
        part.endswith(PARTIAL_SUFFIXES) for part in rel.split("/"))
    return rel.split("/", 1)[0] not in skip and not partial


def _same(local: os.stat_result | None, remote) -> bool:
    if local is None or remote is None:
        return False
    return local.st_size == remote.size and local.st_mtime_ns == remote.mtime_ns


def _under(local: Path, rel: str) -> Path:
    return local / rel if rel else local


def _join(root: str, rel: str) -> str:
    return f"{root}/{rel}" if rel else root


def _download(fs, info, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}{PARTIAL_MARK}{os.getpid()}")
    with fs.open_input_stream(info.path) as source, open(part, "wb") as sink:
        shutil.copyfileobj(source, sink, length=1 << 22)
    os.utime(part, ns=(info.mtime_ns, info.mtime_ns))
    part.replace(target)
    return info.size


def _upload(fs, source: Path, path: str, before=None) -> int:
    """Upload ``source``; ``before`` is the object it replaces (its time must change)."""
    while True:
        with open(source, "rb") as reader, fs.open_output_stream(path) as sink:
            shutil.copyfileobj(reader, sink, length=1 << 22)
        mtime = fs.get_file_info(path).mtime_ns
        if before is None or mtime != before.mtime_ns:
            break
        time.sleep(1.0 - (time.time() % 1.0) + 0.05)  # into the next second, then again
    os.utime(source, ns=(mtime, mtime))  # both sides now agree: not copied again
    return source.stat().st_size


@contextlib.contextmanager
def _storage_errors(uri: str) -> Iterator[None]:
    """pyarrow's OSError (no endpoint, no credentials, no bucket) as one line that says where
    the settings come from."""
    try:
        yield
    except FileNotFoundError:
        raise
    except OSError as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise FinelabelError(
            f"{uri}: {first}. Object storage is reached with the endpoint and credentials of "
            "the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
            "AWS_REGION)") from error
