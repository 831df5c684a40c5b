"""Peak memory sampling sees the driver's own growth and a child process's."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

from finelabel.benchmark.memory import PeakMemory


def test_peak_memory_sees_the_driver_grow():
    with PeakMemory(interval=0.02) as idle:
        time.sleep(0.1)
    with PeakMemory(interval=0.02) as busy:
        block = np.ones(300 * 1024 * 1024 // 8)  # 300 MB, touched
        time.sleep(0.2)
        del block
    assert busy.result.driver_mb > idle.result.driver_mb + 200


def test_peak_memory_sees_a_child_process():
    code = "import numpy as np, time; b = np.ones(200 * 1024 * 1024 // 8); time.sleep(3)"
    with PeakMemory(interval=0.05) as peak:
        child = subprocess.Popen([sys.executable, "-c", code])
        child.wait(timeout=60)
    assert peak.result.worker_mb > 180
    assert peak.result.workers_total_mb >= peak.result.worker_mb
