"""The whole pipeline on a real local Ray with 2 DDP workers, read back from MLflow.

The demo runs once per module (about two minutes on 2 cores); the other tests reuse its run
folder: resuming, a worker lost mid-run, a failing stage.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from finelabel.config import load_config
from finelabel.errors import DataError, FinelabelError
from finelabel.run_folder import RunFolder
from finelabel.stages.runner import STAGES, run_pipeline, tracked_stage
from finelabel.tracking import find_child_runs
from finelabel.train.job import TrainJob
from finelabel.train.trainer import fit
from tests.paths import CONFIGS
from tests.ray_nodes import descendants_running, kill_quietly

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(ray_local, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    uri = f"sqlite:///{root}/mlflow.db"
    config = load_config(CONFIGS / "demo.yaml", [f"tracking.tracking_uri={uri}"])
    assert config.train.num_workers == 2 and config.siamese.num_workers == 2
    result = run_pipeline(config, root / "run")
    return {"config": config, "out": root / "run", "uri": uri, "results": result.results,
            "parent_run_id": result.parent_run_id}


def test_demo_reaches_map_and_writes_results(demo: dict) -> None:
    results = demo["results"]
    assert results["test"]["all"]["avg"] >= 0.5, results["test"]
    assert set(results["test"]) == {"all", "train_at_100"}
    for protocol in results["test"].values():
        assert set(protocol) == {"i2t", "t2i", "avg"}
    written = json.loads((demo["out"] / "results.json").read_text())
    assert written["mlflow"]["tracking_uri"] == demo["uri"]
    assert (demo["out"] / "pr_curves.png").stat().st_size > 5_000
    per_class = json.loads((demo["out"] / "per_class_ap.json").read_text())
    assert len(per_class["i2t"]) == 5


def test_labels_are_written_once_per_pair(demo: dict) -> None:
    """The labelled pairs are exactly the training pairs, each labelled by the bins fitted over
    every pair's r (per polarity: 1 - F+ for positives, F- for negatives), as recorded."""
    from finelabel.labels import HardnessBins, fit_hardness_bins

    folder = RunFolder.at(demo["out"])
    labelled = pq.read_table(folder.pairs("labelled")).to_pandas()
    pairs = pq.read_table(folder.pairs("train")).to_pandas()
    assert len(labelled) == len(pairs) == demo["config"].pairs.n_pairs
    key = ["text_idx", "image_idx", "positive"]
    ordered, expected = (f[key].sort_values(key).reset_index(drop=True)
                         for f in (labelled, pairs))
    pd.testing.assert_frame_equal(ordered, expected)
    bins = fit_hardness_bins(labelled["similarity"].to_numpy(), labelled["positive"].to_numpy(),
                             demo["config"].loss.bins)
    np.testing.assert_array_equal(
        labelled["hardness"].to_numpy(),
        bins.labels(labelled["similarity"].to_numpy(), labelled["positive"].to_numpy()))
    recorded = json.loads(folder.label_summary.read_text())["bins"]
    assert HardnessBins.from_dict(recorded).to_dict() == bins.to_dict()
    assert labelled["hardness"].between(0, 1).all()
    hard = labelled["hardness"].to_numpy()
    r = labelled["similarity"].to_numpy()
    for polarity, sign in ((True, -1), (False, 1)):  # low-r positives, high-r negatives are hard
        side = labelled["positive"].to_numpy() == polarity
        by_r = hard[side][np.argsort(r[side], kind="stable")]
        assert (sign * np.diff(by_r) >= 0).all() and by_r[0] != by_r[-1]
    for polarity in (True, False):
        assert labelled.loc[labelled["positive"] == polarity, "hardness"].nunique() <= 9
    # The trained siamese net scores positives (same category) above negatives on average.
    by_polarity = labelled.groupby("positive")["similarity"].mean()
    assert by_polarity[True] > by_polarity[False]


def test_label_similarity_is_the_siamese_score_of_the_pair_texts(demo: dict) -> None:
    """r(T_i, T_j), T_j being the text of image j: the actor pools agree with the model itself."""
    import torch

    from finelabel.data.prepared import PreparedData
    from finelabel.train.checkpoint import load_model

    labelled = pq.read_table(RunFolder.at(demo["out"]).pairs("labelled")).to_pandas()
    sample = labelled.sample(200, random_state=0)
    data = PreparedData.load(demo["out"])
    model = load_model(demo["out"] / "siamese" / "model", data, task="siamese").eval()
    with torch.no_grad():
        expected = model(data.texts(sample["text_idx"].to_numpy()),
                         data.texts(sample["image_idx"].to_numpy())).numpy()
    np.testing.assert_allclose(sample["similarity"].to_numpy(), expected, rtol=1e-4, atol=1e-5)


def test_mlflow_holds_params_metrics_artifacts_and_child_runs(demo: dict) -> None:
    client = MlflowClient(demo["uri"])
    parent = client.get_run(demo["results"]["mlflow"]["parent_run_id"])
    assert parent.info.status == "FINISHED"
    params = parent.data.params
    assert (params["beta"], params["margin"], params["lam"]) == ("0.3", "0.8", "0.35")
    assert params["train.num_workers"] == "2"
    assert parent.data.metrics["test_map_avg"] == pytest.approx(
        demo["results"]["test"]["all"]["avg"])
    assert len(parent.data.tags["git_commit"]) == 40
    assert len(parent.data.tags["manifest_sha256"]) == 64
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"results.json", "pr_curves.png", "config.yaml"} <= artifacts
    children = find_child_runs(demo["uri"], parent.info.run_id)
    assert [c.info.run_name for c in children] == list(STAGES)
    assert all(c.info.status == "FINISHED" for c in children)
    train = next(c for c in children if c.info.run_name == "train")
    history = client.get_metric_history(train.info.run_id, "val_map_avg")
    assert [m.step for m in history] == list(range(1, demo["config"].train.epochs + 1))
    assert {"model"} <= {a.path for a in client.list_artifacts(train.info.run_id)}
    assert {a.path for a in client.list_artifacts(train.info.run_id, "model")} >= {
        "model/model.pt", "model/meta.json"}
    evaluate = next(c for c in children if c.info.run_name == "evaluate")
    assert "test_map_train_at_100_avg" in evaluate.data.metrics


def test_rerun_resumes_instead_of_starting_over(demo: dict) -> None:
    epochs = demo["config"].train.epochs + 1
    config = load_config(CONFIGS / "demo.yaml", [f"tracking.tracking_uri={demo['uri']}",
                                                    f"train.epochs={epochs}"])
    summary = tracked_stage(config, demo["out"], "train").outcome.report
    assert summary["resumed_from"] == epochs - 1
    assert summary["last_epoch"] == epochs


def test_a_finished_pipeline_run_again_keeps_every_stage(demo: dict) -> None:
    """The same command on a finished run folder redoes nothing and reports the same MAP,
    in the same MLflow parent run."""
    from finelabel.stages.pipeline_state import STATE_FILE

    state = RunFolder.at(demo["out"]).root / STATE_FILE
    before = json.loads(state.read_text())
    model_at = (RunFolder.at(demo["out"]).model("dual") / "meta.json").stat().st_mtime
    again = run_pipeline(demo["config"], demo["out"])
    assert again.parent_run_id == demo["parent_run_id"]
    assert again.results["test"] == demo["results"]["test"]
    after = json.loads(state.read_text())
    assert {k: v["run_id"] for k, v in after["stages"].items()} == {
        k: v["run_id"] for k, v in before["stages"].items()}
    assert (RunFolder.at(demo["out"]).model("dual") / "meta.json").stat().st_mtime == model_at


def test_a_changed_model_starts_afresh_instead_of_loading_a_checkpoint_it_does_not_fit(
        demo: dict, tmp_path: Path) -> None:
    """Ray Train's run name carries the settings' identity: a new embedding size finds no
    checkpoint of the old shape to load."""
    from finelabel.stages.pipeline_state import train_run_name

    config = load_config(CONFIGS / "demo.yaml", [f"tracking.tracking_uri={demo['uri']}",
                                                    "model.embed_dim=48", "train.epochs=1",
                                                    "train.num_workers=1"])
    assert train_run_name(config, "dual") != train_run_name(demo["config"], "dual")
    folder = tmp_path / "run"
    shutil.copytree(demo["out"], folder, symlinks=True)
    summary = tracked_stage(config, folder, "train").outcome.report
    assert summary["resumed_from"] == 0 and summary["last_epoch"] == 1


def _train_workers() -> list[psutil.Process]:
    """RayTrainWorker processes of this test session's own Ray (its descendants only)."""
    return descendants_running("RayTrainWorker")


@contextlib.contextmanager
def _train_worker_killed_when(ready: Callable[[], bool]) -> Iterator[list[int]]:
    """Kill one Train worker of this session as soon as ``ready()``; yield the killed pids."""
    killed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not killed:
            if ready():
                victims = _train_workers()
                if victims and kill_quietly(victims[-1]):
                    killed.append(victims[-1].pid)
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    yield killed
    watcher.join(timeout=5)
    assert killed, "the worker was never killed: the test did not exercise a failure"


def _checkpoint_registrar(marks: Path):
    """A Ray Train callback that leaves a file for each checkpoint the controller registered.

    Ray Train calls user callbacks after its checkpoint manager, so a mark means a restart will
    resume from that checkpoint; files appearing in storage do not (they are written first).
    Built inside a function so that it is pickled by value into the controller process.
    """
    from ray.train import UserCallback

    class CheckpointRegistrar(UserCallback):
        def after_report(self, run_context, metrics, checkpoint) -> None:
            if checkpoint is not None:
                marks.mkdir(parents=True, exist_ok=True)
                (marks / Path(checkpoint.path).name).touch()

    return CheckpointRegistrar()


@pytest.mark.faults
def test_a_lost_worker_resumes_from_the_last_checkpoint(demo: dict, tmp_path: Path) -> None:
    """A DDP worker killed mid-run: Ray Train restarts the group from the latest registered
    checkpoint, at most the epoch in flight is redone, and training ends where an unfaulted
    run of the same seed ends."""
    from finelabel.tracking.funnel import read_history

    config = demo["config"]
    train = load_config(None, ["train.num_workers=2", "train.epochs=6", "train.lr=0.001",
                               "train.max_failures=2", "train.patience=0"]).train

    def job(name: str) -> TrainJob:
        return TrainJob("dual", str(demo["out"]), str(tmp_path / name / "model"), config.model,
                        config.loss, train)

    pairs = RunFolder.at(demo["out"]).pairs("labelled")
    marks = tmp_path / "registered"
    registered_at_kill: list[int] = []

    def two_registered() -> bool:
        count = len(list(marks.iterdir())) if marks.is_dir() else 0
        if count >= 2:
            registered_at_kill.append(count)
        return count >= 2

    faulted = job("faulted")
    with _train_worker_killed_when(two_registered):
        outcome = fit(faulted, pairs, storage_path=tmp_path / "ray_results", run_name="lost",
                      callbacks=(_checkpoint_registrar(marks),))
    assert outcome.last_metrics["epoch"] == 6
    # restarted from the checkpoint registered when the worker died (or a later one), not 0
    assert outcome.last_metrics["resumed_from"] >= registered_at_kill[0]
    clean = job("clean")
    fit(clean, pairs, storage_path=tmp_path / "ray_results", run_name="clean")
    faulted_history, clean_history = (read_history(j.history_path()) for j in (faulted, clean))
    assert [r["step"] for r in faulted_history] == [r["step"] for r in clean_history]
    for a, b in zip(faulted_history, clean_history):
        assert a["val_map_avg"] == pytest.approx(b["val_map_avg"], abs=LOST_WORKER_TOLERANCE)


#: Validation MAP of a resumed run vs an unfaulted one of the same seed. A resumed epoch redraws
#: its order and dropout from (seed, epoch, rank) and restores the optimiser, so they agree to
#: float rounding.
LOST_WORKER_TOLERANCE = 1e-6


def test_a_failing_stage_marks_its_runs_failed(demo: dict, tiny_layout: Path,
                                               tmp_path: Path) -> None:
    """A list line with an unknown label stops prepare after its runs opened: both FAILED."""
    lists = tiny_layout / "trainset_txt_img_cat.list"
    lines = lists.read_text().splitlines()
    lines[2] = lines[2].rsplit("\t", 1)[0] + "\t99"
    lists.write_text("\n".join(lines) + "\n")
    config = load_config(CONFIGS / "wikipedia_en.yaml", [
        f"tracking.tracking_uri={demo['uri']}", "text.min_freq=0"],
        root=str(tiny_layout.parent))
    with pytest.raises(DataError, match="trainset_txt_img_cat.list:3"):
        run_pipeline(config, tmp_path / "run", run_name="doomed")
    client = MlflowClient(demo["uri"])
    experiment = client.get_experiment_by_name("finelabel")
    parent = client.search_runs([experiment.experiment_id],
                                "attributes.run_name = 'doomed'")[0]
    assert parent.info.status == "FAILED"
    assert "label '99'" in parent.data.tags["error"]
    (prepare,) = find_child_runs(demo["uri"], parent.info.run_id)
    assert prepare.info.status == "FAILED" and "error.txt" in {
        a.path for a in client.list_artifacts(prepare.info.run_id)}


def test_a_wrong_root_fails_before_any_run_opens(demo: dict, tmp_path: Path) -> None:
    config = load_config(CONFIGS / "wikipedia_en.yaml", [
        f"tracking.tracking_uri={demo['uri']}"], root=str(tmp_path / "missing"))
    with pytest.raises(DataError, match="dataset root not found"):
        run_pipeline(config, tmp_path / "run", run_name="never-opened")
    client = MlflowClient(demo["uri"])
    experiment = client.get_experiment_by_name("finelabel")
    assert not client.search_runs([experiment.experiment_id],
                                  "attributes.run_name = 'never-opened'")
    assert not (tmp_path / "run").exists()


def test_a_margin_search_records_every_trial_and_stops_a_poor_one_early(
        demo: dict, tmp_path: Path, capsys) -> None:
    """Two trials in turn: lr 1e-7 barely moves from its random start, so ASHA stops it after
    epoch 1 (below the lr 1e-3 trial's epoch-1 score, the rung's cutoff)."""
    from finelabel.cli import main
    from finelabel.stages.tune import RESULTS_FILE
    from finelabel.train.checkpoint import META_FILE

    space = tmp_path / "space.yaml"
    space.write_text("space:\n  train.lr: {grid_search: [0.001, 1.0e-7]}\n"
                     "  loss.beta: {uniform: [0.1, 0.5]}\n"
                     "num_samples: 1\nmax_concurrent_trials: 1\ngrace_period: 1\n",
                     encoding="utf-8")
    assert main(["tune", "--config", str(CONFIGS / "demo.yaml"), "--out", str(demo["out"]),
                 "--tracking-uri", demo["uri"], "--space", str(space), "--name", "lr",
                 "--set", "train.epochs=3", "--set", "train.num_workers=1"]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((RunFolder.at(demo["out"]).search("lr") / RESULTS_FILE).read_text())
    good, poor = summary["trials"]  # best first
    assert good["params"]["train.lr"] == 0.001 and poor["params"]["train.lr"] == 1e-7
    assert (good["epochs"], poor["epochs"]) == (3, 1)
    assert good["best_score"] > poor["best_score"]
    assert all(0.1 <= t["params"]["loss.beta"] <= 0.5 for t in summary["trials"])
    assert summary["best"]["trial_id"] == good["trial_id"] and good["trial_id"] in printed
    assert (Path(summary["best"]["model_dir"]) / META_FILE).is_file()
    assert (RunFolder.at(demo["out"]).search("lr") / "trials.png").stat().st_size > 5_000

    client = MlflowClient(demo["uri"])
    search = client.get_run(summary["mlflow"]["run_id"])
    assert search.info.status == "FINISHED" and search.data.tags["finelabel.stage"] == "tune"
    assert search.data.metrics["best_val_map_avg"] == pytest.approx(good["best_score"])
    assert {"results.json", "trials.png", "space.yaml", "best_model"} <= {
        a.path for a in client.list_artifacts(search.info.run_id)}
    runs = {r.info.run_name: r for r in find_child_runs(demo["uri"], search.info.run_id)}
    assert set(runs) == {good["trial_id"], poor["trial_id"]}
    for trial in (good, poor):
        run = runs[trial["trial_id"]]
        assert run.info.status == "FINISHED" and run.data.tags["finelabel.stage"] == "trial"
        assert float(run.data.params["beta"]) == pytest.approx(trial["params"]["loss.beta"])
        assert float(run.data.params["train.lr"]) == trial["params"]["train.lr"]
        history = client.get_metric_history(run.info.run_id, "val_map_avg")
        assert [m.step for m in history] == list(range(1, trial["epochs"] + 1))
    # max_concurrent_trials: 1 holds: the second trial started after the first ended.
    first, second = sorted(runs.values(), key=lambda r: r.info.start_time)
    assert first.info.end_time <= second.info.start_time
    assert runs[poor["trial_id"]].data.tags["stopped_early"] == "true"
    assert runs[good["trial_id"]].data.tags["stopped_early"] == "false"


def test_a_stopped_search_resumes_by_name_in_the_same_runs(demo: dict, tmp_path: Path) -> None:
    """The trial's worker dies with no retries left, so the trial fails; running the search
    again by name restarts it from its own latest checkpoint, in the same MLflow runs."""
    from finelabel.stages.tune import STATE_FILE, tune_search

    space = tmp_path / "space.yaml"
    space.write_text("space:\n  loss.beta: {grid_search: [0.3]}\nnum_samples: 1\n"
                     "grace_period: 0\n", encoding="utf-8")
    config = load_config(CONFIGS / "demo.yaml", [
        f"tracking.tracking_uri={demo['uri']}", "train.epochs=4", "train.num_workers=1",
        "train.max_failures=0"])
    client = MlflowClient(demo["uri"])
    state = RunFolder.at(demo["out"]).search("resume") / STATE_FILE

    def epochs_recorded() -> int:
        # Recorded in MLflow means Tune got the epoch, after Ray Train registered its checkpoint.
        if not state.is_file():
            return 0
        trials = find_child_runs(demo["uri"], json.loads(state.read_text())["mlflow_run_id"])
        return len(client.get_metric_history(trials[0].info.run_id, "val_map_avg")) if trials \
            else 0

    with _train_worker_killed_when(lambda: epochs_recorded() >= 2):
        first = tune_search(config, demo["out"], space, name="resume")
    (trial,) = first["trials"]
    assert trial["status"] == "ERROR" and 2 <= trial["epochs"] < 4
    search_id = first["mlflow"]["run_id"]
    (run,) = find_child_runs(demo["uri"], search_id)
    assert run.info.status == "FAILED" and run.data.tags["error"]

    second = tune_search(config, demo["out"], tmp_path / "not-read-on-resume.yaml", name="resume")
    (trial,) = second["trials"]
    assert (trial["status"], trial["epochs"]) == ("DONE", 4)
    assert second["mlflow"]["run_id"] == search_id
    assert client.get_run(search_id).info.status == "FINISHED"
    (again,) = find_child_runs(demo["uri"], search_id)
    assert again.info.run_id == run.info.run_id and again.info.status == "FINISHED"
    assert "error" not in again.data.tags
    assert client.get_metric_history(run.info.run_id, "resumed_from")[-1].value >= 2


def test_a_search_needs_labelled_pairs(tmp_path: Path) -> None:
    from finelabel.stages.tune import tune_search

    with pytest.raises(FinelabelError, match="no labelled pairs.*finelabel pipeline"):
        tune_search(load_config(None), tmp_path, CONFIGS.parent.parent / "tune_spaces" /
                    "margins.yaml")


def test_compare_prints_runs_best_first(demo: dict, capsys) -> None:
    from finelabel.cli import main

    assert main(["compare", "--tracking-uri", demo["uri"], "--filter",
                 "tags.`finelabel.stage` = 'pipeline'"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:3] == ["run_name", "run_id", "status"]
    assert demo["results"]["mlflow"]["parent_run_id"] in lines[1]
    assert f"{demo['results']['test']['all']['avg']:.4f}" in lines[1]


@pytest.mark.faults
def test_ctrl_c_during_a_search_marks_it_killed_and_it_resumes_by_name(demo: dict,
                                                                        tmp_path: Path) -> None:
    """Interrupted trials were once reported DONE with 0 epochs, their runs left RUNNING, the
    search FINISHED, and Ray's Tuner.restore hint printed instead of ours."""
    import signal
    import subprocess
    import sys

    from finelabel.cli import main
    from finelabel.stages.tune import STATE_FILE
    from tests.paths import REPO

    space = tmp_path / "space.yaml"
    space.write_text("space:\n  loss.beta: {grid_search: [0.2, 0.4]}\nnum_samples: 1\n"
                     "max_concurrent_trials: 1\ngrace_period: 0\n", encoding="utf-8")
    flags = ["--config", str(CONFIGS / "demo.yaml"), "--out", str(demo["out"]),
             "--tracking-uri", demo["uri"], "--space", str(space), "--name", "ctrlc",
             "--set", "train.epochs=4", "--set", "train.num_workers=1"]
    process = subprocess.Popen([sys.executable, "-m", "finelabel.cli", "tune", *flags],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    client = MlflowClient(demo["uri"])
    state = RunFolder.at(demo["out"]).search("ctrlc") / STATE_FILE
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        trials = find_child_runs(demo["uri"], json.loads(state.read_text())["mlflow_run_id"]) \
            if state.is_file() else []
        if trials and client.get_metric_history(trials[0].info.run_id, "val_map_avg"):
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 130, err[-3000:]
    assert "Resume it with: finelabel tune" in err and "--name ctrlc" in err
    assert "Tuner.restore" not in out + err
    search_id = json.loads(state.read_text())["mlflow_run_id"]
    assert client.get_run(search_id).info.status == "KILLED"
    trials = find_child_runs(demo["uri"], search_id)
    assert trials and all(t.info.status != "RUNNING" for t in trials)
    assert {t.info.status for t in trials} <= {"KILLED", "FINISHED"}
    assert not (state.parent / "results.json").exists()

    assert main(["tune", *flags]) == 0  # the command we printed, minus the space: resumes
    assert client.get_run(search_id).info.status == "FINISHED"
    again = find_child_runs(demo["uri"], search_id)
    assert [t.info.run_id for t in again][:len(trials)] == [t.info.run_id for t in trials]
    assert len(again) == 2 and all(t.info.status == "FINISHED" for t in again)
    summary = json.loads((state.parent / "results.json").read_text())
    assert [t["epochs"] for t in summary["trials"]] == [4, 4]
    assert all(t["status"] == "DONE" for t in summary["trials"])


@pytest.mark.faults
def test_ctrl_c_during_training_exits_130_in_one_line_and_the_same_command_resumes(
        demo: dict, tmp_path: Path, capsys) -> None:
    """Ray Train's SIGINT handler ended the command with SystemExit(1) and Ray's log line,
    not our line saying how to resume."""
    import os
    import signal

    from finelabel.cli import INTERRUPTED, main
    from finelabel.train.job import history_path

    out = tmp_path / "run"
    shutil.copytree(demo["out"], out, ignore=shutil.ignore_patterns("dual", "ray_results"))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    flags = ["train", "--config", str(CONFIGS / "demo.yaml"), "--out", str(out),
             "--tracking-uri", uri, "--set", "train.epochs=6", "--set", "train.num_workers=1"]
    history = history_path(RunFolder.at(out).model("dual"))
    finished = threading.Event()

    def press_ctrl_c_after_an_epoch() -> None:
        deadline = time.monotonic() + 600
        while not finished.is_set() and time.monotonic() < deadline:
            if history.is_file() and history.read_text().strip():
                os.kill(os.getpid(), signal.SIGINT)  # the main thread is in training
                return
            time.sleep(0.2)

    presser = threading.Thread(target=press_ctrl_c_after_an_epoch, daemon=True)
    presser.start()
    try:
        code = main(flags)
    finally:
        finished.set()
        presser.join()
    err = capsys.readouterr().err
    assert code == 130, err[-3000:]
    assert INTERRUPTED in err and "Traceback" not in err
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    (interrupted,) = client.search_runs(experiments)
    assert interrupted.info.status == "KILLED"

    assert main(flags) == 0
    resumed = next(r for r in client.search_runs(experiments)
                   if r.info.run_id != interrupted.info.run_id)
    assert resumed.info.status == "FINISHED"
    assert resumed.data.metrics["resumed_from"] >= 1  # the epochs before Ctrl-C were kept


def _killed_when(command: list[str], ready: Callable[[], bool], timeout: float = 600):
    """Run ``command`` in a process group of its own; SIGKILL the whole group once
    ``ready()`` (a driver killed outright, its local Ray with it). Returns its exit code."""
    import os
    import signal
    import subprocess
    import sys

    from tests.paths import REPO

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_GCS_SERVER_PORT")}
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    process = subprocess.Popen([sys.executable, "-m", "finelabel.cli", *command], cwd=REPO,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and process.poll() is None and not ready():
            time.sleep(0.5)
        assert process.poll() is None, "the command ended before it could be killed"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return process.returncode


def _epochs_in_mlflow(uri: str, state_file: Path, stage: str) -> int:
    if not state_file.is_file():
        return 0
    run_id = json.loads(state_file.read_text()).get("stages", {}).get(stage, {}).get("run_id")
    if not run_id:
        return 0
    return len(MlflowClient(uri).get_metric_history(run_id, "val_map_avg"))


@pytest.mark.faults
def test_a_killed_pipeline_continues_in_the_same_runs(ray_local, tmp_path: Path) -> None:
    """SIGKILL of the driver mid-training: the same command again finishes without redoing
    the finished stages or epochs, in the same MLflow runs, and leaves none RUNNING."""
    from finelabel.cli import main
    from finelabel.stages.pipeline_state import STATE_FILE

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    out = tmp_path / "run"
    flags = ["pipeline", "--config", str(CONFIGS / "demo.yaml"), "--out", str(out),
             "--tracking-uri", uri, "--set", "train.epochs=5", "--set", "siamese.epochs=2",
             "--set", "train.num_workers=1", "--set", "siamese.num_workers=1"]
    state = out / STATE_FILE
    code = _killed_when(flags, lambda: _epochs_in_mlflow(uri, state, "train") >= 2)
    assert code == -9
    before = json.loads(state.read_text())
    assert before["stages"]["siamese"]["finished"] and not before["stages"]["train"]["finished"]
    prepared_at = (out / "manifest.json").stat().st_mtime

    assert main(flags) == 0
    after = json.loads(state.read_text())
    assert after["parent_run_id"] == before["parent_run_id"]
    assert (out / "manifest.json").stat().st_mtime == prepared_at  # prepare was not redone
    client = MlflowClient(uri)
    parent = client.get_run(after["parent_run_id"])
    assert parent.info.status == "FINISHED"
    children = find_child_runs(uri, parent.info.run_id)
    names = [c.info.run_name for c in children]
    assert sorted(names) == sorted(STAGES)  # one run per stage: continued, not duplicated
    assert all(c.info.status == "FINISHED" for c in children)
    train = next(c for c in children if c.info.run_name == "train")
    assert train.info.run_id == before["stages"]["train"]["run_id"]
    history = client.get_metric_history(train.info.run_id, "resumed_from")
    assert history[-1].value >= 1  # continued from a checkpoint, not from epoch 0
    epochs = sorted({m.step for m in client.get_metric_history(train.info.run_id,
                                                               "val_map_avg")})
    assert epochs == list(range(1, epochs[-1] + 1)) and epochs[-1] >= 3


@pytest.mark.faults
def test_a_killed_search_continues_by_name_in_the_same_runs(demo: dict, tmp_path: Path) -> None:
    from finelabel.cli import main
    from finelabel.stages.tune import STATE_FILE

    space = tmp_path / "space.yaml"
    space.write_text("space:\n  loss.beta: {grid_search: [0.2, 0.4]}\nnum_samples: 1\n"
                     "max_concurrent_trials: 1\ngrace_period: 0\n", encoding="utf-8")
    flags = ["tune", "--config", str(CONFIGS / "demo.yaml"), "--out", str(demo["out"]),
             "--tracking-uri", demo["uri"], "--space", str(space), "--name", "killed",
             "--set", "train.epochs=3", "--set", "train.num_workers=1"]
    state = RunFolder.at(demo["out"]).search("killed") / STATE_FILE
    client = MlflowClient(demo["uri"])

    def first_epoch_recorded() -> bool:
        if not state.is_file():
            return False
        trials = find_child_runs(demo["uri"], json.loads(state.read_text())["mlflow_run_id"])
        return bool(trials) and bool(client.get_metric_history(trials[0].info.run_id,
                                                               "val_map_avg"))

    assert _killed_when(flags, first_epoch_recorded) == -9
    search_id = json.loads(state.read_text())["mlflow_run_id"]
    assert main(flags) == 0
    assert client.get_run(search_id).info.status == "FINISHED"
    trials = find_child_runs(demo["uri"], search_id)
    assert len(trials) == 2 and all(t.info.status == "FINISHED" for t in trials)
    for trial in trials:
        steps = [m.step for m in client.get_metric_history(trial.info.run_id, "val_map_avg")]
        assert sorted(set(steps)) == [1, 2, 3]


@pytest.mark.faults
def test_a_labelling_actor_killed_mid_stage_loses_and_repeats_no_pair(demo: dict,
                                                                       tmp_path: Path) -> None:
    """Ray Data restarts a lost embedding actor and redoes its batch: every pair labelled once,
    and exactly as a run of the same actor pool that lost nothing labelled it."""
    from finelabel.stages.label import label_pairs
    from finelabel.stages.reproduce_runs import PREPARED, link

    # The actor pool embeds, Ray Data tasks score (the pipeline did both in-process).
    config = load_config(CONFIGS / "demo.yaml", ["label.in_process_texts=0",
                                                 "label.in_process_pairs=0"])

    def relabelled(name: str) -> RunFolder:
        folder = RunFolder.at(tmp_path / name)
        link(demo["out"], folder.root, PREPARED + ("siamese",))
        (folder.root / "pairs").mkdir(parents=True)
        link(demo["out"] / "pairs", folder.root / "pairs", ("train",))
        label_pairs(config, folder.root)
        return folder

    clean = relabelled("clean")
    killed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            victims = descendants_running("TextEmbedder")
            if victims and kill_quietly(victims[0]):
                killed.append(victims[0].pid)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    faulted = relabelled("faulted")
    watcher.join(timeout=5)
    assert killed, "no embedding actor was killed: the test did not exercise a failure"
    again = pq.read_table(faulted.pairs("labelled")).to_pandas()
    first = pq.read_table(clean.pairs("labelled")).to_pandas()
    key = ["text_idx", "image_idx", "positive"]
    again, first = (f.sort_values(key).reset_index(drop=True) for f in (again, first))
    assert len(again) == len(first) == demo["config"].pairs.n_pairs
    assert not again.duplicated(key).any()
    np.testing.assert_array_equal(again[key].to_numpy(), first[key].to_numpy())
    np.testing.assert_allclose(again["similarity"], first["similarity"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(again["hardness"], first["hardness"])
    # and the in-process embedding of the pipeline itself says the same of every pair
    piped = pq.read_table(RunFolder.at(demo["out"]).pairs("labelled")).to_pandas()
    piped = piped.sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(piped["similarity"], first["similarity"], rtol=1e-4, atol=1e-5)
