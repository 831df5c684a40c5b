"""The manifest of a prepared dataset: what went in (hashed), what came out, what was skipped."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from finelabel.run_folder import write_json


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_inputs(paths: Iterable[str | Path], root: Path) -> dict[str, str]:
    """``{path relative to root: sha256}`` for every input file, sorted by path.

    A collection has one text and one image file per pair, so this runs over hundreds of
    thousands of paths: they stay strings, and each folder (not each file) is resolved once
    (pathlib objects and a ``resolve`` per file cost more than the hashing).
    """
    unique = sorted({os.fspath(p) for p in paths})
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = list(pool.map(sha256_file, unique))
    relative = _Relative(root)
    return {relative(p): d for p, d in zip(unique, digests)}


class _Relative:
    """A path relative to ``root`` once both are resolved; the path as given if outside."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        self.folders: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        folder, name = os.path.split(path)
        resolved = self.folders.get(folder)
        if resolved is None:
            resolved = self.folders[folder] = os.path.realpath(folder or ".")
        if resolved == self.root:
            return name
        if not resolved.startswith(self.root + os.sep):
            return path
        return os.path.join(resolved[len(self.root) + 1:], name)


def write_manifest(path: Path, manifest: dict[str, Any]) -> Path:
    """Write the manifest JSON at ``path`` (a run folder's ``manifest.json``), atomically."""
    write_json(path, manifest)
    return path


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest at ``path``; a missing one says to run prepare."""
    from finelabel.errors import FinelabelError

    path = Path(path)
    if not path.is_file():
        raise FinelabelError(f"{path}: no manifest; run `finelabel prepare --out "
                             f"{path.parent}` first")
    return json.loads(path.read_text(encoding="utf-8"))
