"""The manifest of a prepared dataset: what went in (hashed), what came out, what was skipped."""

from __future__ import annotations

import hashlib
import json
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


def hash_inputs(paths: Iterable[Path], root: Path) -> dict[str, str]:
    """``{path relative to root: sha256}`` for every input file, sorted by path."""
    unique = sorted({Path(p) for p in paths})
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = list(pool.map(sha256_file, unique))
    return {_relative(p, root): d for p, d in zip(unique, digests)}


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


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
