"""A two-node Ray cluster on this machine runs `jobs/pipeline.py` submitted with `ray job submit`.

The test starts a head and a worker node (`ray start --block`, both on 127.0.0.1, each with its
own temp folder so the nodes do not unpack the job's working dir over each other), with token
auth from a token of its own, and stops both by their pids.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import REPO

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """SIGINT (the head's clean stop), then SIGTERM, then the process group it leads."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                continue
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _wait_for_nodes(env: dict, gcs: str, count: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = subprocess.run([RAY, "status", "--address", gcs], env=env, capture_output=True,
                                text=True, timeout=60)
        if status.stdout.count(" node_") >= count:
            return
        time.sleep(2)
    raise AssertionError(f"the cluster did not reach {count} nodes: {status.stdout[-2000:]}")


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[dict]:
    short = Path(f"/tmp/fl{secrets.token_hex(3)}")  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    env.pop("RAY_ADDRESS", None)
    port, dashboard = _free_port(), _free_port()
    gcs = f"127.0.0.1:{port}"
    common = ["--num-cpus=2", "--block"]
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", f"--dashboard-port={dashboard}",
         f"--dashboard-agent-listen-port={_free_port()}", f"--temp-dir={short}/head", *common],
        env=env, stdout=open(tmp_path / "head.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    nodes = [head]
    try:
        _wait_for_nodes(env, gcs, 1)
        nodes.append(subprocess.Popen(
            [RAY, "start", f"--address={gcs}", f"--dashboard-agent-listen-port={_free_port()}",
             f"--temp-dir={short}/worker", *common],
            env=env, stdout=open(tmp_path / "worker.log", "w"), stderr=subprocess.STDOUT,
            start_new_session=True))
        _wait_for_nodes(env, gcs, 2)
        yield {"env": env, "dashboard": f"http://127.0.0.1:{dashboard}", "tmp": tmp_path}
    finally:
        for node in reversed(nodes):
            _stop(node)
        subprocess.run(["rm", "-rf", str(short)], check=False)


def test_pipeline_job_succeeds_on_two_nodes(cluster: dict) -> None:
    out, db = cluster["tmp"] / "out", cluster["tmp"] / "mlflow.db"
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    runtime_env = {"env_vars": {"MLFLOW_TRACKING_URI": f"sqlite:///{db}",
                                "FINELABEL_GIT_COMMIT": commit,
                                "RAY_DATA_DISABLE_PROGRESS_BARS": "1"},
                   "excludes": [".venv", "runs", "*.db"]}
    overrides = ["data.synthetic.train_per_category=40", "data.synthetic.test_per_category=10",
                 "siamese.epochs=1", "train.epochs=1", "pairs.n_pairs=1000",
                 "pairs.siamese_pairs=1000", "model.embed_dim=64"]
    command = [RAY, "job", "submit", "--address", cluster["dashboard"],
               "--submission-id", "finelabel-two-nodes", "--working-dir", str(REPO),
               "--runtime-env-json", json.dumps(runtime_env), "--",
               sys.executable, "jobs/pipeline.py", "--config", "jobs/configs/demo.yaml",
               "--out", str(out), *[arg for item in overrides for arg in ("--set", item)]]
    submitted = subprocess.run(command, env=cluster["env"], capture_output=True, text=True,
                               timeout=900, cwd=REPO)
    log = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, log[-4000:]
    status = subprocess.run([RAY, "job", "status", "--address", cluster["dashboard"],
                             "finelabel-two-nodes"], env=cluster["env"], capture_output=True,
                            text=True, timeout=60)
    assert "job 'finelabel-two-nodes' succeeded" in (status.stdout + status.stderr).lower()
    results = json.loads((out / "results.json").read_text())
    assert results["mlflow"]["tracking_uri"] == f"sqlite:///{db}"
    assert 0.0 < results["test"]["all"]["avg"] <= 1.0
    assert (out / "pr_curves.png").is_file() and db.is_file()
    from mlflow import MlflowClient

    parent = MlflowClient(f"sqlite:///{db}").get_run(results["mlflow"]["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["git_commit"] == commit  # the shipped working dir has no .git
