"""Ray Data writes into a run folder that may live on object storage.

Ray Data writes from tasks on any node, so a local path would scatter the files over the
nodes' disks; for a storage URI the tasks write to the bucket, and the driver then fetches the
files into its working copy.
"""

from __future__ import annotations

from pathlib import Path

from finelabel.storage.locations import filesystem, is_remote
from finelabel.storage.sync import fetch


def write_parquet(dataset, local: Path, location: str, **options) -> None:
    """Write ``dataset`` as Parquet files at ``local``, through ``location`` (the same folder as
    workers see it: a path, or a URI whose temporary objects are removed afterwards)."""
    if not is_remote(location):
        dataset.write_parquet(str(local), **options)
        return
    fs, path = filesystem(location)
    fs.delete_dir_contents(path, missing_dir_ok=True)
    try:
        dataset.write_parquet(path, filesystem=fs, **options)
        fetch(location, local)
    finally:
        fs.delete_dir_contents(path, missing_dir_ok=True)
        if fs.get_file_info(path).type.name == "Directory":
            fs.delete_dir(path)
