"""A Ray worker that hangs in its own exit outlives the raylet that would have stopped it
(seen: a Train controller deadlocked in Ray's core-worker destructor, ~1 GB, for hours). The
local Ray finelabel starts stops such leftovers of its own when it shuts down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.paths import REPO

pytestmark = pytest.mark.slow  # a local Ray starts in ~10 s

HANGING_WORKER = """
import atexit, os, time
import ray
from finelabel.stages.ray_session import local_ray

@ray.remote(num_cpus=0)
class HangsOnExit:
    def pid(self):
        atexit.register(time.sleep, 3600)  # as Ray's own exit handler can hang
        return os.getpid()

    def leave(self):
        ray.actor.exit_actor()

with local_ray(num_cpus=1):
    actor = HangsOnExit.remote()
    print(ray.get(actor.pid.remote()), flush=True)
    actor.leave.remote()
    time.sleep(3)  # it has left Ray and is stuck in its exit handlers
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_worker_stuck_in_its_exit_is_stopped_with_the_local_ray():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-c", HANGING_WORKER], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    pid = int(done.stdout.split()[0])
    try:
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), f"the worker {pid} outlived its Ray"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
