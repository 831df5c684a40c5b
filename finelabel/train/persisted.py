"""The newest checkpoint a training run wrote to its storage, registered by Ray or not.

Ray Train writes each checkpoint to the run's storage from the worker, and records it in the
run's snapshot (what a rerun of the same name resumes from) later, in its controller. A driver
killed between the two leaves checkpoints that a rerun does not see: under load two finished
epochs, already in MLflow, were trained again. A rerun therefore also looks at the storage.
"""

from __future__ import annotations

import logging
from pathlib import Path

from finelabel.errors import FinelabelError
from finelabel.storage import is_remote, join, ray_storage
from finelabel.train.checkpoint import MODEL_FILE, load_state, load_tensors, read_meta

log = logging.getLogger(__name__)
#: How Ray Train names a run's checkpoint folders.
CHECKPOINT_PREFIX = "checkpoint_"


def latest_persisted(storage_path: str | Path, run_name: str) -> tuple[str, int] | None:
    """(location, epoch) of the readable checkpoint with the highest epoch among run
    ``run_name``'s folders under ``storage_path`` (a path or a storage URI); None if none.
    A folder a kill left half-written is skipped, saying so."""
    best: tuple[str, int] | None = None
    for location in _checkpoint_folders(storage_path, run_name):
        epoch = checkpoint_epoch(location)
        if epoch is not None and (best is None or epoch > best[1]):
            best = (location, epoch)
    return best


def checkpoint_epoch(location: str) -> int | None:
    """The epoch after which the checkpoint at ``location`` was taken; None if it is not a
    whole finelabel training checkpoint."""
    try:
        with open_checkpoint(location) as path:
            read_meta(path)
            load_tensors(Path(path) / MODEL_FILE)
            return int(load_state(path)["epoch"])
    except FinelabelError as error:
        log.warning("not resuming from %s: %s", location, error)
        return None


def open_checkpoint(location: str):
    """A context giving a local folder with the checkpoint at ``location``."""
    from ray.train import Checkpoint

    filesystem, path = ray_storage(location)
    return Checkpoint(path, filesystem=filesystem).as_directory()


def _checkpoint_folders(storage_path: str | Path, run_name: str) -> list[str]:
    """Locations of the run's checkpoint folders, newest name first.

    Found from a recursive listing of their files: on GCS, pyarrow's listing of one level
    shows only folders that have marker objects (apache/arrow#35993), and objects uploaded
    without pyarrow's ``create_dir`` (gsutil, a copied run folder) have none.
    """
    import pyarrow.fs as pafs

    filesystem, root = ray_storage(storage_path)
    filesystem = filesystem or pafs.LocalFileSystem()
    run = f"{root.rstrip('/')}/{run_name}"
    listed = filesystem.get_file_info(pafs.FileSelector(run, recursive=True,
                                                        allow_not_found=True))
    inside = [info.path[len(run) + 1:] for info in listed if info.type == pafs.FileType.File]
    folders = {rel.split("/", 1)[0] for rel in inside if "/" in rel}
    names = sorted((name for name in folders if name.startswith(CHECKPOINT_PREFIX)),
                   reverse=True)
    base = str(storage_path) if is_remote(storage_path) else root
    return [join(base, run_name, name) for name in names]
