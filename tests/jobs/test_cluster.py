"""A two-node Ray cluster on this machine, used as a cluster without shared disks is used:
`ray job submit` of `jobs/pipeline.py` and then of a `jobs/tune.py` search, the run folder in
an S3 bucket (moto), runs in an MLflow server over HTTP that keeps them in PostgreSQL with its
artifacts in the same bucket.

The test starts a head and a worker node (`ray start --block`, both on 127.0.0.1, each with its
own temp folder and its own working-copy cache, so the nodes share no folder), with token auth
from a token of its own, and stops every server and node by its pid.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.paths import REPO
from tests.ray_nodes import (
    RAY,
    free_port,
    head_node,
    node_env,
    start_joined,
    stop_node,
)

pytestmark = pytest.mark.slow


@pytest.fixture()
def tracking(s3_env: dict, s3_bucket: str, tmp_path: Path) -> Iterator[dict]:
    """An MLflow server on PostgreSQL with its artifacts in the bucket."""
    from tests.servers import mlflow_server, postgres_server

    with postgres_server() as database:
        port = free_port()
        server_env = {**s3_env, "MLFLOW_S3_ENDPOINT_URL": s3_env["AWS_ENDPOINT_URL"]}
        with mlflow_server(database, f"{s3_bucket}/mlflow", port, env=server_env):
            yield {"uri": f"http://127.0.0.1:{port}", "password": urlsplit(database).password}


@pytest.fixture()
def cluster(s3_env: dict, tmp_path: Path, ray_local) -> Iterator[dict]:
    """Two nodes; with another Ray on the machine (``ray_local``), as on a developer's laptop
    and in a full test run: the cluster's workers must still find their own."""
    env = node_env(s3_env)
    caches = {"head": tmp_path / "cache-head", "worker": tmp_path / "cache-worker"}
    with head_node({**env, "FINELABEL_CACHE": str(caches["head"])}, tmp_path) as head:
        worker = start_joined([f"--address={head['gcs']}", "--num-cpus=2",
                               f"--dashboard-agent-listen-port={free_port()}",
                               f"--temp-dir={head['temp']}/worker"],
                              {**env, "FINELABEL_CACHE": str(caches["worker"])},
                              tmp_path / "worker.log", head["gcs"], 2)
        try:
            yield {"env": env, "dashboard": head["dashboard"], "gcs": head["gcs"],
                   "tmp": tmp_path, "caches": caches}
        finally:
            stop_node(worker)


def _submit(cluster: dict, submission_id: str, script: str, *args: str,
            env_vars: dict[str, str]) -> str:
    """``ray job submit`` of ``script``; fails the test with the job's log unless it succeeds."""
    runtime_env = {"env_vars": {**env_vars, "RAY_DATA_DISABLE_PROGRESS_BARS": "1"},
                   "excludes": [".venv", "runs", "*.db", "mutants"]}
    command = [RAY, "job", "submit", "--address", cluster["dashboard"],
               "--submission-id", submission_id, "--working-dir", str(REPO),
               "--runtime-env-json", json.dumps(runtime_env), "--",
               sys.executable, script, *args]
    submitted = subprocess.run(command, env=cluster["env"], capture_output=True, text=True,
                               timeout=1500, cwd=REPO)
    log = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, log[-4000:]
    status = subprocess.run([RAY, "job", "status", "--address", cluster["dashboard"],
                             submission_id], env=cluster["env"], capture_output=True,
                            text=True, timeout=60)
    assert f"job '{submission_id}' succeeded" in (status.stdout + status.stderr).lower()
    return log


def _explain(cluster: dict, states: list) -> str:
    """The trials' states and whole errors, with the cluster as Ray sees it now (pytest would
    cut the errors short in a repr)."""
    status = subprocess.run([RAY, "status", "-v", "--address", cluster["gcs"]],
                            env=cluster["env"], capture_output=True, text=True, timeout=120)
    lines = [f"{state}: {error}" for state, error in states]
    return "\n".join([*lines, "ray status -v:", status.stdout[-3000:], status.stderr[-1000:]])


def _train_worker_nodes(cluster: dict, job_id: str) -> set[str]:
    """The nodes Ray Train's workers of job ``job_id`` ran on (the state API keeps dead ones)."""
    listed = subprocess.run(
        [RAY, "list", "actors", "--address", cluster["dashboard"], "--detail", "--format",
         "json", "--limit", "10000", "--filter", "class_name=RayTrainWorker"],
        env=cluster["env"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return {a["node_id"] for a in json.loads(listed.stdout) if a.get("job_id") == job_id}


def _job_id(cluster: dict, submission_id: str) -> str:
    listed = subprocess.run([RAY, "list", "jobs", "--address", cluster["dashboard"], "--detail",
                             "--format", "json"], env=cluster["env"], capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr[-2000:]
    return next(j["job_id"] for j in json.loads(listed.stdout)
                if j.get("submission_id") == submission_id)


def test_pipeline_and_search_run_on_two_nodes_sharing_no_disk(cluster: dict, tracking: dict,
                                                              s3_bucket: str, s3_env: dict):
    from mlflow import MlflowClient

    from finelabel.storage import fetch
    from finelabel.tracking import find_child_runs

    out = f"{s3_bucket}/runs/two-nodes"
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    # Ray Train waits 60 s for a worker group's placement by default, and we try 3 times; on a
    # loaded 2-core machine a worker group that is being released can take longer than that.
    env_vars = {"MLFLOW_TRACKING_URI": tracking["uri"], "FINELABEL_GIT_COMMIT": commit,
                "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "150"}
    overrides = ["data.synthetic.train_per_category=40", "data.synthetic.test_per_category=10",
                 "siamese.epochs=1", "train.epochs=2", "pairs.n_pairs=1000",
                 "pairs.siamese_pairs=1000", "model.embed_dim=64", "train.num_workers=1",
                 "siamese.num_workers=1"]
    flags = [arg for item in overrides for arg in ("--set", item)]
    _submit(cluster, "finelabel-pipeline", "jobs/pipeline.py", "--config",
            "jobs/configs/demo.yaml", "--out", out, *flags, env_vars=env_vars)
    space = cluster["tmp"] / "space.yaml"
    space.write_text("space:\n  loss.beta: {grid_search: [0.3, 0.0]}\n"
                     "num_samples: 1\nmax_concurrent_trials: 1\n", encoding="utf-8")
    # Two trials, one after the other, each with two DDP workers strictly spread over both
    # nodes: the second is placed only if the first released its worker group. Tune stops
    # each trial at its last epoch (ASHA's max_t) and so kills its Ray Train controller; Ray
    # Train's cleaner must then find this cluster, though the nodes were started without
    # RAY_ADDRESS and other Ray instances may run on the machine (the test session's own).
    log = _submit(cluster, "finelabel-tune", "jobs/tune.py", "--config", "jobs/configs/demo.yaml",
                  "--out", out, "--space", str(space), "--name", "beta", *flags,
                  "--set", "train.num_workers=2", "--set", "train.placement_strategy=STRICT_SPREAD",
                  env_vars=env_vars)
    assert f"results: {out}/tune/beta/results.json" in log

    # Everything is in the bucket; each node worked in its own copy of the run folder.
    local = cluster["tmp"] / "read-back"
    fetch(out, local, skip=("ray_results",))
    results = json.loads((local / "results.json").read_text())
    assert 0.0 < results["test"]["all"]["avg"] <= 1.0
    search = json.loads((local / "tune" / "beta" / "results.json").read_text())
    assert len(search["trials"]) == 2 and search["best"]["model_dir"].startswith(out)
    for node, cache in cluster["caches"].items():
        copy = cache / "runs" / "s3" / s3_bucket.removeprefix("s3://") / "runs" / "two-nodes"
        assert any((copy / "items").glob("*.parquet")), node  # fetched on that node
    assert len(_train_worker_nodes(cluster, _job_id(cluster, "finelabel-tune"))) == 2

    # The runs, read back from the tracking server (PostgreSQL behind it).
    client = MlflowClient(tracking["uri"])
    parent = client.get_run(results["mlflow"]["parent_run_id"])
    assert parent.info.status == "FINISHED" and parent.data.tags["git_commit"] == commit
    trials = find_child_runs(tracking["uri"], search["mlflow"]["run_id"])
    states = [(t.info.status, t.data.tags.get("error")) for t in trials]
    assert [status for status, _ in states] == ["FINISHED"] * 2, _explain(cluster, states)
    assert "best_model" in {a.path for a in client.list_artifacts(search["mlflow"]["run_id"])}
    for run in [parent, *trials]:
        logged = json.dumps({**run.data.params, **run.data.tags})
        assert tracking["password"] not in logged
        assert s3_env["AWS_SECRET_ACCESS_KEY"] not in logged
