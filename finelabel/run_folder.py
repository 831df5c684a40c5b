"""The run folder (``--out``): the one owner of the names of everything a run writes.

    <out>/
      source/                the generated synthetic dataset (synthetic runs only)
      items/  graph.npz  vocab.tsv  config.yaml  manifest.json      prepare
      pairs/siamese/  pairs/train/                                   pairs
      siamese/model/  (or siamese/fold-<f>/model/, label.folds > 1)  siamese
      pairs/labelled/  label_model/  label_summary.json              label
      dual/model/                                                    train
      ray_results/           Ray Train's runs (checkpoints), by stage name
      results.json  per_class_ap.json  pr_curves.png                 evaluate
      tune/<name>/                                                   tune

Every stage reads and writes through a :class:`RunFolder`, so a name is written once, and
replacing an output is always atomic (:func:`replacing`): a failure never leaves half of one.

A run folder may live on object storage (``--out s3://bucket/prefix``): the stages then work in
a node-local copy (:mod:`finelabel.storage`) that :meth:`RunFolder.fetch` fills from the bucket
and :meth:`RunFolder.publish` copies back; Ray Train checkpoints and Tune's searches go to
the bucket directly, and workers are given :meth:`RunFolder.location_of` a path, never the
driver's disk.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finelabel.storage import fetch, is_remote, join, local_path, publish

PAIR_KINDS = ("siamese", "train", "labelled")
TASKS = ("siamese", "dual")
#: Written by Ray straight to the run folder's storage, never through the local copy.
RAY_OWNED = ("ray_results", "tune")


@dataclass(frozen=True)
class RunFolder:
    """Typed paths inside one run folder; building one touches no disk.

    ``root`` is always a local folder: the run folder itself, or the working copy of
    ``remote``, the URI the run folder lives at.
    """

    root: Path
    remote: str | None = None

    @classmethod
    def at(cls, location: str | Path) -> RunFolder:
        """The run folder at a local path or a storage URI (``s3://bucket/prefix``)."""
        if is_remote(location):
            return cls(local_path(location), str(location).rstrip("/"))
        return cls(local_path(location))

    @property
    def location(self) -> str:
        """Where the run folder lives, as given to workers on any node: the URI or the path."""
        return self.remote or str(self.root)

    def location_of(self, path: str | Path) -> str:
        """``path`` (inside ``root``) as workers on any node can find it."""
        if self.remote is None:
            return str(path)
        return join(self.remote, Path(path).relative_to(self.root).as_posix())

    def create(self) -> RunFolder:
        """Make the folder; for a remote one, fetch what the bucket already holds (resume)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.fetch()

    def fetch(self, path: str | Path | None = None) -> RunFolder:
        """Bring the local copy of ``path`` (default: all but Ray's folders) up to date with
        the bucket; nothing to do for a local run folder."""
        if self.remote is not None:
            if path is None:
                fetch(self.remote, self.root, skip=RAY_OWNED)
            else:
                fetch(self.location_of(path), Path(path))
        return self

    def publish(self, path: str | Path | None = None) -> None:
        """Copy the local ``path`` (default: all but Ray's folders) to the bucket."""
        if self.remote is not None:
            if path is None:
                publish(self.root, self.remote, skip=RAY_OWNED)
            else:
                publish(Path(path), self.location_of(path))

    # prepare
    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def items(self) -> Path:
        return self.root / "items"

    @property
    def graph(self) -> Path:
        return self.root / "graph.npz"

    @property
    def vocab(self) -> Path:
        return self.root / "vocab.tsv"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    # pairs, siamese, label, train
    def pairs(self, kind: str) -> Path:
        """``siamese`` (text-text), ``train`` (text-image) or ``labelled`` (train + labels)."""
        if kind not in PAIR_KINDS:
            raise ValueError(f"pair kind must be one of {PAIR_KINDS}, got {kind!r}")
        return self.root / "pairs" / kind

    def model(self, task: str) -> Path:
        """The best model of ``task`` (``siamese`` or ``dual``) by validation MAP."""
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        return self.root / task / "model"

    def siamese_nets(self, folds: int = 1) -> list[Path]:
        """The siamese nets that label pairs: ``siamese/model``, or with out-of-fold labels
        one per fold, ``siamese/fold-<f>/model`` (trained on every fold but f)."""
        if folds <= 1:
            return [self.model("siamese")]
        return [self.root / "siamese" / f"fold-{fold}" / "model" for fold in range(folds)]

    @property
    def label_model(self) -> Path:
        """Siamese embeddings, head and bins: the labels of in-batch pairs."""
        return self.root / "label_model"

    @property
    def label_summary(self) -> Path:
        return self.root / "label_summary.json"

    @property
    def ray_results(self) -> Path:
        return self.root / "ray_results"

    # evaluate
    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def per_class_ap(self) -> Path:
        return self.root / "per_class_ap.json"

    @property
    def pr_curves(self) -> Path:
        return self.root / "pr_curves.png"

    # tune
    def search(self, name: str) -> Path:
        return self.root / "tune" / name


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path``.

    A failure inside the block leaves the old ``path`` as it was (and no temporary behind).
    """
    final = Path(path)
    tmp = final.with_name(final.name + ".tmp")
    _remove(tmp)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(final)
    tmp.replace(final)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON at ``path``, atomically (a reader never sees half)."""
    path = Path(path)
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    return path


def _jsonable(value: Any) -> Any:
    """numpy numbers as numbers, anything else (paths) as text."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
