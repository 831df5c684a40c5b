"""A Ray worker that hangs in its own exit outlives the raylet that would have stopped it
(seen: a Train controller deadlocked in Ray's core-worker destructor, ~1 GB, for hours). The
local Ray finelabel starts stops such leftovers of its own when it shuts down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.paths import REPO

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
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.mark.slow  # a local Ray starts in ~10 s
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


def test_only_workers_of_the_given_address_are_found():
    """Found by the address in their environment and a ``ray::`` title, never by name alone:
    another Ray's worker on the machine is left alone."""
    from finelabel.stages.ray_leftovers import leftover_workers

    def fake_worker(address: str) -> subprocess.Popen:
        env = {**os.environ, "RAY_ADDRESS": address}
        return subprocess.Popen(["bash", "-c", 'exec -a "ray::Fake" sleep 60'], env=env)

    ours, theirs = fake_worker("127.0.0.1:1"), fake_worker("127.0.0.1:2")
    try:
        deadline = time.monotonic() + 10
        while not {ours.pid, theirs.pid} <= set(leftover_workers("127.0.0.1:1")
                                                   + leftover_workers("127.0.0.1:2")):
            assert time.monotonic() < deadline, "the fake workers did not start"
            time.sleep(0.1)
        assert leftover_workers("127.0.0.1:1") == [ours.pid]
        assert leftover_workers("127.0.0.1:2") == [theirs.pid]
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
