"""The pipeline with its run folder on a real S3 server (moto on 127.0.0.1), as a user runs it:
``finelabel pipeline --out s3://bucket/run`` with the endpoint and keys in the environment.

The second run starts from an empty working copy (another machine, in effect): everything it
needs comes from the bucket, and training continues from the checkpoint Ray Train left there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from finelabel.storage import filesystem
from finelabel.tracking import find_child_runs
from tests.paths import CONFIGS

pytestmark = pytest.mark.slow

FLAGS = ["--set", "siamese.epochs=2", "--set", "siamese.num_workers=1",
         "--set", "train.num_workers=2"]


def _objects(uri: str) -> dict[str, int]:
    """Every object under ``uri``: relative name -> modification time (ns)."""
    from pyarrow.fs import FileSelector, FileType

    fs, root = filesystem(uri)
    return {info.path[len(root) + 1:]: info.mtime_ns for info in fs.get_file_info(
        FileSelector(root, recursive=True)) if info.type == FileType.File}


def _read(uri: str) -> bytes:
    fs, path = filesystem(uri)
    with fs.open_input_stream(path) as stream:
        return stream.read()


def _finelabel(command: str, out: str, tracking: str, cache: Path,
               *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["FINELABEL_CACHE"] = str(cache)
    args = [sys.executable, "-m", "finelabel.cli", command, "--config",
            str(CONFIGS / "demo.yaml"), "--out", out, "--tracking-uri", tracking, *FLAGS, *extra]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=1800)


def _pipeline(out: str, tracking: str, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    return _finelabel("pipeline", out, tracking, cache, *extra)


def test_a_pipeline_on_s3_keeps_everything_in_the_bucket_and_resumes_from_it(
        s3_bucket, s3_env, tmp_path):
    out, tracking = f"{s3_bucket}/runs/demo", f"sqlite:///{tmp_path}/mlflow.db"
    first = _pipeline(out, tracking, tmp_path / "cache-a", "--set", "train.epochs=2")
    assert first.returncode == 0, first.stderr[-3000:]
    objects = _objects(out)
    for name in ("manifest.json", "graph.npz", "vocab.tsv", "config.yaml", "results.json",
                 "pr_curves.png", "label_summary.json", "dual/model/meta.json",
                 "dual/model.history.jsonl", "siamese/model/meta.json",
                 "label_model/bins.json"):
        assert name in objects, sorted(objects)
    for part in ("items/", "pairs/train/", "pairs/labelled/"):
        assert any(n.startswith(part) and n.endswith(".parquet") for n in objects), part
    checkpoints = {n.split("/")[2] for n in objects
                   if n.startswith("ray_results/dual-") and "/checkpoint_" in n}
    assert len(checkpoints) >= 1  # Ray Train wrote its checkpoints to the bucket
    results = json.loads(_read(f"{out}/results.json"))
    assert results["test"]["all"]["avg"] > 0.3  # 5 categories: random is ~0.2
    assert f"results: {out}/results.json" in first.stdout

    shutil.rmtree(tmp_path / "cache-a")  # the first machine is gone
    kept = {n: t for n, t in objects.items() if n.startswith(("items/", "pairs/", "label_model/"))}
    second = _pipeline(out, tracking, tmp_path / "cache-b", "--set", "train.epochs=3")
    assert second.returncode == 0, second.stderr[-3000:]
    after = _objects(out)
    assert {n: after[n] for n in kept} == kept  # prepare, pairs and label were not redone
    state = json.loads(_read(f"{out}/pipeline.json"))
    client = MlflowClient(tracking)
    parents = client.search_runs(client.search_experiments()[0].experiment_id,
                                 "tags.`finelabel.stage` = 'pipeline'")
    assert [p.info.run_id for p in parents] == [state["parent_run_id"]]  # continued
    children = {c.info.run_name: c for c in find_child_runs(tracking, state["parent_run_id"])}
    train = client.get_metric_history(children["train"].info.run_id, "resumed_from")
    assert train[-1].value == 2  # continued from the bucket's epoch-2 checkpoint
    history = _read(f"{out}/dual/model.history.jsonl").decode().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2, 3]
    secret = s3_env["AWS_SECRET_ACCESS_KEY"]
    for run in [*parents, *children.values()]:
        logged = json.dumps({**run.data.params, **run.data.tags})
        assert secret not in logged
    assert secret not in first.stdout + first.stderr + second.stdout + second.stderr

    # A search on the bucket's run folder, then the same search by name from a third empty
    # cache: Tune restores it from the bucket, nothing runs again, no run is duplicated.
    space = tmp_path / "space.yaml"
    space.write_text("space:\n  loss.beta: {grid_search: [0.3]}\nnum_samples: 1\n"
                     "grace_period: 0\n", encoding="utf-8")
    search = ("--space", str(space), "--name", "s3", "--set", "train.epochs=1",
              "--set", "train.num_workers=1")
    tuned = _finelabel("tune", out, tracking, tmp_path / "cache-c", *search)
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    summary = json.loads(_read(f"{out}/tune/s3/results.json"))
    assert [t["status"] for t in summary["trials"]] == ["DONE"]
    assert "tune/s3/search.json" in _objects(out)
    again = _finelabel("tune", out, tracking, tmp_path / "cache-d", *search)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(_read(f"{out}/tune/s3/results.json"))["trials"] == summary["trials"]
    searches = client.search_runs(client.search_experiments()[0].experiment_id,
                                  "tags.`finelabel.stage` = 'tune'")
    assert [r.info.run_id for r in searches] == [summary["mlflow"]["run_id"]]
    assert searches[0].info.status == "FINISHED"
    assert len(find_child_runs(tracking, summary["mlflow"]["run_id"])) == 1
