"""Ray nodes started by a test as a user starts them (``ray start --block``), each on
127.0.0.1 with its own temp folder and its own token, and stopped by its own pid."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with token auth of its own and no ``RAY_ADDRESS`` (a node started by
    ``ray start`` knows no address unless its environment names one)."""
    env = {**os.environ, **(extra or {}), "RAY_AUTH_MODE": "token",
           "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    for key in ("RAY_ADDRESS", "RAY_GCS_SERVER_PORT"):
        env.pop(key, None)
    return env


def start_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``ray start ARGS --block`` in a session of its own, its output in ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen([RAY, "start", *args, "--block"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop_node(process: subprocess.Popen) -> None:
    """SIGINT (the head's clean stop), then SIGTERM, then SIGKILL to the process group it
    leads (its dashboard's subprocesses outlive a leader that ends first)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                continue
    with contextlib.suppress(ProcessLookupError):  # what the node left in its group, too
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


#: What ``ray start --block`` prints once its node has registered with the GCS.
STARTED = "will now block forever"


def start_joined(args: list[str], env: dict[str, str], log: Path, gcs: str, count: int,
                 attempts: int = 3) -> subprocess.Popen:
    """``ray start ARGS --block``, waiting until the cluster at ``gcs`` has ``count`` nodes.

    ``ray start`` gives a raylet 30 s (fixed in Ray) to register with the GCS and exits when it
    does not; on a loaded machine that happened to a test's nodes. A node that exits before it
    joins is started again, its leftovers stopped first, up to ``attempts`` times. Its log says
    when it has joined: polling ``ray status`` (a Python start-up every call) took the CPU the
    raylet needed.
    """
    for attempt in range(1, attempts + 1):
        attempt_log = log.with_suffix(f".{attempt}.log")
        node = start_node(args, env, attempt_log)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and node.poll() is None:
                if STARTED in attempt_log.read_text(errors="replace"):
                    _wait_for_count(env, gcs, count)
                    return node
                time.sleep(1)
        except BaseException:  # an interrupted test must not leave its node running
            stop_node(node)
            raise
        stop_node(node)
    raise AssertionError(f"the node did not join in {attempts} attempts; see {log}.*.log")


def _wait_for_count(env: dict, gcs: str, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        status = subprocess.run([RAY, "status", "--address", gcs], env=env, capture_output=True,
                                text=True, timeout=timeout)
        if status.stdout.count(" node_") >= count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the cluster did not reach {count} nodes: "
                                 f"{status.stdout[-2000:]}")
        time.sleep(5)


@contextmanager
def short_folder() -> Iterator[Path]:
    """A short /tmp folder: Ray's socket paths under it must stay below ~107 characters."""
    path = Path(f"/tmp/fl{secrets.token_hex(3)}")
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


@contextmanager
def head_node(env: dict[str, str], logs: Path, num_cpus: int = 2) -> Iterator[dict[str, str]]:
    """A head node; yields its GCS and dashboard addresses."""
    port, dashboard = free_port(), free_port()
    gcs = f"127.0.0.1:{port}"
    with short_folder() as temp:
        head = start_joined(["--head", f"--port={port}", f"--dashboard-port={dashboard}",
                             f"--dashboard-agent-listen-port={free_port()}",
                             f"--temp-dir={temp}/head", f"--num-cpus={num_cpus}"],
                            env, logs / "head.log", gcs, 1)
        try:
            yield {"gcs": gcs, "dashboard": f"http://127.0.0.1:{dashboard}", "temp": str(temp)}
        finally:
            stop_node(head)


def descendants_running(marker: str) -> list:
    """This process's descendants whose command line holds ``marker`` (a Ray actor's class
    name). Processes that end or turn zombie while they are read are left out: a watcher
    thread polling a busy Ray sees both, and must not die of it."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        try:
            if marker in " ".join(process.cmdline() or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


def kill_quietly(process) -> bool:
    """SIGKILL ``process``; False when it had already gone."""
    import psutil

    try:
        process.kill()
    except psutil.Error:
        return False
    return True
