"""Run folders on object storage: a URI (``s3://``, ``gs://``, any ``pyarrow.fs`` URI) mirrored
by a node-local working copy, so the stages keep reading and writing plain files."""

from finelabel.storage.locations import filesystem, is_remote, join, local_path, ray_storage
from finelabel.storage.sync import fetch, publish

__all__ = ["fetch", "filesystem", "is_remote", "join", "local_path", "publish", "ray_storage"]
