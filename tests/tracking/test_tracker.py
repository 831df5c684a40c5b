"""finelabel.tracking against a real SQLite store in a temporary folder (no server)."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from finelabel import __version__
from finelabel.config import Config
from finelabel.errors import ConfigError
from finelabel.tracking import (
    STAGE_TAG,
    Tracker,
    compare_runs,
    error_line,
    find_child_runs,
    git_commit,
    pipeline_run,
    resolve_tracking_uri,
    run_tags,
    stage_run,
)
from finelabel.tracking.funnel import MetricsFunnel, MlflowSink, PrintSink
from finelabel.tracking.tracker import MAX_PARAM_VALUE
from tests.paths import REPO


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def tracker(store) -> Tracker:
    return Tracker(f"sqlite:///{store}/mlflow.db", "tests")


def read_run(tracker: Tracker, run_id: str):
    return tracker.client.get_run(run_id)


def artifact_names(tracker: Tracker, run_id: str, path: str | None = None) -> set[str]:
    return {info.path for info in tracker.client.list_artifacts(run_id, path)}


# --------------------------------------------------------------------------- tracking URI


def test_uri_flag_beats_env_beats_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_tracking_uri("http://flag:5000") == "http://flag:5000"
    assert resolve_tracking_uri() == "http://tracking:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert resolve_tracking_uri("") == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_uri_relative_local_stores_are_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    here = tmp_path.resolve()
    assert resolve_tracking_uri("sqlite:///runs/x.db") == f"sqlite:///{here}/runs/x.db"
    assert resolve_tracking_uri("sqlite:///x.db?timeout=30") == f"sqlite:///{here}/x.db?timeout=30"
    assert resolve_tracking_uri("runs/x.db") == f"sqlite:///{here}/runs/x.db"
    assert resolve_tracking_uri("sqlite:////abs/x.db") == "sqlite:////abs/x.db"
    assert resolve_tracking_uri("file:./mlruns") == (here / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert resolve_tracking_uri() == f"sqlite:///{here}/env.db"


def test_uri_servers_pass_and_folders_are_refused(tmp_path):
    assert resolve_tracking_uri("https://mlflow.example/") == "https://mlflow.example/"
    assert resolve_tracking_uri("postgresql://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(ConfigError, match="is a folder"):
        resolve_tracking_uri(str(tmp_path))


# --------------------------------------------------------------------------- runs


def test_tracker_puts_artifacts_beside_the_sqlite_file_and_pickles(tracker, store):
    location = tracker.client.get_experiment(tracker.experiment_id).artifact_location
    assert location == (store / "mlruns").as_uri()
    copy = pickle.loads(pickle.dumps(tracker))
    assert (copy.tracking_uri, copy.experiment_name) == (tracker.tracking_uri, "tests")
    assert copy.experiment_id == tracker.experiment_id


def test_pipeline_and_stage_runs_nest(tracker):
    with pipeline_run(tracker, "pipeline", tags={"dataset": "synthetic"}) as parent:
        with stage_run(tracker, "prepare", parent_run_id=parent) as first:
            pass
        with stage_run(tracker, "train", parent_run_id=parent, tags={"k": 1}) as second:
            pass
    child = read_run(tracker, second)
    assert child.data.tags["mlflow.parentRunId"] == parent
    assert child.data.tags[STAGE_TAG] == "train" and child.data.tags["k"] == "1"
    assert child.info.run_name == "train" and child.info.status == "FINISHED"
    top = read_run(tracker, parent)
    assert "mlflow.parentRunId" not in top.data.tags
    assert top.data.tags[STAGE_TAG] == "pipeline" and top.data.tags["dataset"] == "synthetic"
    assert top.data.tags["finelabel_version"] == __version__
    assert top.info.status == "FINISHED"
    children = find_child_runs(tracker.tracking_uri, parent)
    assert [run.info.run_id for run in children] == [first, second]


def test_log_config_logs_every_leaf_and_the_short_margin_names(tracker):
    config = Config()
    run_id = tracker.start_run("config")
    tracker.log_config(run_id, config)
    params = read_run(tracker, run_id).data.params
    for key, value in config.flat().items():
        assert params[key] == str(value)
    assert params["beta"] == params["loss.beta"] == "0.3"
    assert params["margin"] == "0.8" and params["lam"] == "0.35"
    assert "config.yaml" in artifact_names(tracker, run_id)


def test_log_params_batches_stringifies_and_cuts_long_values(tracker, caplog):
    run_id = tracker.start_run("params")
    many = {f"p{i}": i for i in range(250)}
    with caplog.at_level(logging.WARNING, logger="finelabel.tracking"):
        tracker.log_params(run_id, {**many, "long": "x" * (MAX_PARAM_VALUE + 7),
                                    "list": [1, 2], "none": None})
    params = read_run(tracker, run_id).data.params
    assert len(params) == 253 and params["p249"] == "249"
    assert params["list"] == "[1, 2]" and params["none"] == "None"
    assert len(params["long"]) == MAX_PARAM_VALUE
    assert "'long'" in caplog.text


def test_metrics_with_steps_read_back_as_history(tracker):
    run_id = tracker.start_run("metrics")
    for step in range(3):
        tracker.log_metrics(run_id, {"loss": 1.0 / (step + 1), "epoch": step}, step=step)
    history = tracker.client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == \
        [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]
    with pytest.raises(TypeError, match="'note'"):
        tracker.log_metrics(run_id, {"note": "fast"})


def test_artifacts_file_folder_and_dict(tracker, tmp_path):
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    (folder / "model.pt").write_bytes(b"\0")
    run_id = tracker.start_run("artifacts")
    tracker.log_artifact(run_id, tmp_path / "table.csv")
    tracker.log_artifact(run_id, folder)
    tracker.log_artifact(run_id, folder, artifact_path="best")
    tracker.log_dict(run_id, {"map": 0.5}, "eval/result.json")
    assert artifact_names(tracker, run_id) >= {"table.csv", "checkpoint", "best", "eval"}
    assert artifact_names(tracker, run_id, "checkpoint") == {"checkpoint/model.pt"}
    assert artifact_names(tracker, run_id, "best") == {"best/model.pt"}
    local = tracker.client.download_artifacts(run_id, "eval/result.json", str(tmp_path))
    assert json.loads(Path(local).read_text()) == {"map": 0.5}
    with pytest.raises(FileNotFoundError, match="missing"):
        tracker.log_artifact(run_id, tmp_path / "missing")


def test_failing_stage_is_marked_failed_with_the_error_and_reraises(tracker, tmp_path):
    with pytest.raises(ValueError, match="bad batch"):
        with stage_run(tracker, "label") as run_id:
            raise ValueError("bad batch\nsecond line")
    run = read_run(tracker, run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "ValueError: bad batch"
    text = Path(tracker.client.download_artifacts(run_id, "error.txt", str(tmp_path))).read_text()
    assert "Traceback" in text and "second line" in text


def test_failing_pipeline_fails_parent_and_child(tracker):
    with pytest.raises(RuntimeError):
        with pipeline_run(tracker, "pipeline") as parent:
            with stage_run(tracker, "evaluate", parent_run_id=parent) as child:
                raise RuntimeError("boom")
    assert read_run(tracker, parent).info.status == "FAILED"
    assert read_run(tracker, child).info.status == "FAILED"


def test_interrupted_stage_is_marked_killed(tracker):
    with pytest.raises(KeyboardInterrupt):
        with stage_run(tracker, "train") as run_id:
            raise KeyboardInterrupt
    assert read_run(tracker, run_id).info.status == "KILLED"


def test_error_line_is_short_and_names_the_type():
    assert error_line(RuntimeError()) == "RuntimeError"
    assert len(error_line(ValueError("x" * 2000))) == 500


def test_child_run_logs_from_another_process(tracker, tmp_path):
    """How a Ray Train rank-0 worker logs: another process, another folder, a run id."""
    parent = tracker.start_run("pipeline")
    child = tracker.start_run("train", parent_run_id=parent)
    script = textwrap.dedent(f"""
        from finelabel.tracking.funnel import MetricsFunnel, MlflowSink
        from finelabel.tracking import Tracker
        tracker = Tracker({tracker.tracking_uri!r}, "tests")
        funnel = MetricsFunnel([MlflowSink(tracker, {child!r})])
        for step in range(3):
            funnel.report({{"val_map_avg": 0.1 * step}}, step)
        tracker.end_run({child!r})
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert done.returncode == 0, done.stderr
    history = tracker.client.get_metric_history(child, "val_map_avg")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert read_run(tracker, child).info.status == "FINISHED"
    assert [run.info.run_id for run in find_child_runs(tracker.tracking_uri, parent)] == [child]
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_import_has_no_side_effects():
    code = "import sys, finelabel.tracking; assert 'mlflow' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- provenance


def test_run_tags_give_the_commit_and_the_manifest_hash(tmp_path):
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(b'{"items": 3}\n')
    tags = run_tags(str(manifest))
    assert tags["git_commit"] == tags["mlflow.source.git.commit"] == head
    assert tags["manifest_sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert tags["finelabel_version"] == __version__


def test_run_tags_outside_a_checkout_or_without_git(tmp_path, monkeypatch):
    tags = run_tags(code_path=tmp_path)
    assert "git_commit" not in tags and "mlflow.source.git.commit" not in tags
    monkeypatch.setenv("PATH", str(tmp_path))
    assert git_commit(REPO) is None


# --------------------------------------------------------------------------- compare


def test_compare_runs_orders_by_a_metric(store):
    tracker = Tracker(f"sqlite:///{store}/mlflow.db", "compare")
    for name, beta, score in [("low", 0.1, 0.40), ("high", 0.3, 0.55), ("none", 0.5, None)]:
        run_id = tracker.start_run(name, tags={STAGE_TAG: "pipeline"})
        tracker.log_params(run_id, {"beta": beta, "margin": 0.8, "lam": 0.35})
        if score is not None:
            tracker.log_metrics(run_id, {"test_map_avg": score})
        tracker.end_run(run_id)
    rows = compare_runs(tracker.tracking_uri, "compare")
    assert [row["run_name"] for row in rows] == ["high", "low", "none"]
    assert rows[0]["beta"] == "0.3" and rows[0]["test_map_avg"] == pytest.approx(0.55)
    assert rows[2]["test_map_avg"] is None and rows[0]["status"] == "FINISHED"
    rows = compare_runs(tracker.tracking_uri, "compare", "params.beta = '0.1'",
                        order_by=(), columns=("run_name", "tags.finelabel.stage"))
    assert rows == [{"run_name": "low", "finelabel.stage": "pipeline"}]
    with pytest.raises(ConfigError, match="no MLflow experiment"):
        compare_runs(tracker.tracking_uri, "absent")


# --------------------------------------------------------------------------- funnel


def test_funnel_forwards_to_every_sink_in_order(tracker, capsys, caplog):
    seen: list[tuple[str, dict, int]] = []
    run_id = tracker.start_run("funnel")
    funnel = MetricsFunnel([lambda m, step: seen.append(("first", dict(m), step))])
    funnel.add(MlflowSink(tracker, run_id)).add(PrintSink(prefix="train"))
    funnel.add(PrintSink(logger=logging.getLogger("finelabel.test")))
    with caplog.at_level(logging.INFO, logger="finelabel.test"):
        funnel.report({"loss": 0.123456, "epoch": 4}, step=4)
    assert seen == [("first", {"loss": 0.123456, "epoch": 4}, 4)]
    assert read_run(tracker, run_id).data.metrics == {"loss": 0.123456, "epoch": 4.0}
    assert capsys.readouterr().out == "train step 4 | loss=0.1235 epoch=4\n"
    assert "step 4 | loss=0.1235 epoch=4" in caplog.text
