"""A folder of the driver's working copy that tasks on any node read by path.

The synthetic dataset is generated into the run folder (``source/``) on the driver; prepare's
Ray Data tasks and VGG-19 actors read its texts and images by path. On a node that does not
share the driver's disk, :class:`SourceMirror` fetches the folder from the bucket once per
process and maps the driver's paths onto this node's copy (and back, for what the driver
records).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from finelabel.storage.locations import local_path
from finelabel.storage.sync import fetch


@dataclass(frozen=True)
class SourceMirror:
    """``uri``: where the folder is in the bucket; ``driver_dir``: its path on the driver."""

    uri: str
    driver_dir: str

    def here(self, path: str | Path) -> Path:
        """The driver's ``path`` (inside ``driver_dir``) in this node's copy."""
        rel = Path(path).relative_to(self.driver_dir)
        return _fetched_once(self.uri) / rel

    def there(self, path: str | Path) -> str:
        """This node's ``path`` (from :meth:`here`) as the driver knows it."""
        rel = Path(path).relative_to(_fetched_once(self.uri))
        return str(Path(self.driver_dir) / rel)


@functools.cache
def _fetched_once(uri: str) -> Path:
    """The local copy of ``uri``, fetched once per process: inputs do not change mid-stage."""
    fetch(uri)
    return local_path(uri)
