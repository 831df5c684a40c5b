"""Peak resident memory of this process and of the processes it started (a local Ray's
workers are its descendants), sampled from a thread while a block of work runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import psutil

MB = 1024 * 1024


@dataclass
class Peak:
    """Peaks in MB: this process, the largest single descendant, all descendants together."""

    driver_mb: float = 0.0
    worker_mb: float = 0.0
    workers_total_mb: float = 0.0


class PeakMemory:
    """``with PeakMemory() as peak: ...``: ``peak.result`` holds the peaks seen meanwhile.

    Sampling every ``interval`` seconds can miss a spike shorter than that; the driver's own
    figure also takes the kernel's high-water mark when it only grew inside the block.
    """

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.result = Peak()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="peak-memory")
        self._process = psutil.Process()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        peak = self.result
        try:
            peak.driver_mb = max(peak.driver_mb, self._process.memory_info().rss / MB)
            children = self._process.children(recursive=True)
        except psutil.Error:
            return
        sizes = []
        for child in children:
            try:
                sizes.append(child.memory_info().rss / MB)
            except psutil.Error:  # it ended between the listing and the reading
                continue
        if sizes:
            peak.worker_mb = max(peak.worker_mb, max(sizes))
            peak.workers_total_mb = max(peak.workers_total_mb, sum(sizes))
