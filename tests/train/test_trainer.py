"""Ray Train runs that fail: a group that cannot be placed, a controller that fails mid-run."""

from __future__ import annotations

from pathlib import Path

import pytest

from finelabel.config import load_config
from finelabel.errors import FinelabelError
from finelabel.run_folder import RunFolder
from finelabel.tracking.funnel import read_history
from finelabel.train.job import TrainJob
from finelabel.train.trainer import fit

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def _job(folder: RunFolder, model_dir: Path, *overrides: str) -> TrainJob:
    config = load_config(None, ["model.embed_dim=32", "train.lr=0.001", "train.pairing=sampled",
                                *overrides])
    return TrainJob("dual", str(folder.root), str(model_dir), config.model, config.loss,
                    config.train)


def test_a_worker_group_that_cannot_be_placed_fails_with_what_is_free(paired, tmp_path,
                                                                      monkeypatch):
    """It once waited forever (Ray retries an unplaceable group without limit)."""
    monkeypatch.setenv("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", "3")
    job = _job(paired, tmp_path / "model", "train.num_workers=6", "train.epochs=1")
    with pytest.raises(FinelabelError, match=r"could not place 6 Train worker\(s\) of "
                                             r"\{'CPU': 1\} each \(PACK, 3 tries\); .* CPU free "
                                             r"\(node \w{6}: [\d.]+ CPU\)"):
        fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="too-big")


def _once_after(marker: Path, epoch: int, action):
    """A Ray Train callback that calls ``action()`` on the controller once (``marker`` says
    it did), after ``epoch`` was reported: a fault at a known point of training."""
    from ray.train import UserCallback

    class Once(UserCallback):
        def after_report(self, run_context, metrics, checkpoint) -> None:
            if metrics[0].get("epoch") == epoch and not marker.exists():
                marker.touch()
                action()

    return Once()


def _failing_once(marker: Path, epoch: int):
    """Raise on the controller once: Ray charges that to its controller and, by itself,
    would not retry."""
    def fail():
        raise RuntimeError("the controller lost its worker mid-report")

    return _once_after(marker, epoch, fail)


def test_a_controller_failure_resumes_from_the_latest_checkpoint(paired, tmp_path):
    job = _job(paired, tmp_path / "model", "train.num_workers=1", "train.epochs=4",
               "train.max_failures=1")
    outcome = fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="resume",
                  callbacks=(_failing_once(tmp_path / "failed", 2),))
    assert (tmp_path / "failed").exists()
    assert outcome.last_metrics["epoch"] == 4
    # not 0: no epoch was redone. 3 when the worker had written epoch 3's checkpoint before
    # the controller failed: Ray never registered it, the rerun finds it on storage
    assert outcome.last_metrics["resumed_from"] in (2, 3)
    epochs = [row["epoch"] for row in read_history(job.history_path())]
    assert sorted(set(epochs)) == [1, 2, 3, 4]  # every epoch recorded, none lost


def test_controller_failures_beyond_the_budget_are_raised(paired, tmp_path):
    from ray.train import ControllerError

    job = _job(paired, tmp_path / "model", "train.num_workers=1", "train.epochs=3",
               "train.max_failures=0")
    with pytest.raises(ControllerError):
        fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="no-budget",
            callbacks=(_failing_once(tmp_path / "failed", 1),))


def test_a_checkpoint_ray_had_not_registered_when_the_driver_died_is_resumed_from(paired,
                                                                                 tmp_path):
    """The worker writes a checkpoint to storage, Ray's controller registers it later: a
    driver killed in between left finished epochs, already in MLflow, to be trained again."""
    storage = tmp_path / "ray"
    first = _job(paired, tmp_path / "model", "train.num_workers=1", "train.epochs=2")
    fit(first, paired.pairs("train"), storage_path=storage, run_name="killed")
    snapshot = storage / "killed" / "checkpoint_manager_snapshot.json"
    snapshot.unlink()  # what the controller had not written yet when the driver died
    again = _job(paired, tmp_path / "model", "train.num_workers=1", "train.epochs=3")
    outcome = fit(again, paired.pairs("train"), storage_path=storage, run_name="killed")
    assert outcome.last_metrics["resumed_from"] == 2  # not 0: no finished epoch was redone
    assert [row["epoch"] for row in read_history(again.history_path())] == [1, 2, 3]


def _interrupting_driver(marker: Path, epoch: int):
    """Press Ctrl-C in this (the driver's) process once: the user's interrupt."""
    import os
    import signal

    driver = os.getpid()
    return _once_after(marker, epoch, lambda: os.kill(driver, signal.SIGINT))


def test_ctrl_c_during_training_is_an_interrupt_and_the_same_fit_resumes(paired, tmp_path):
    """Ray Train's own SIGINT handler ended the run with SystemExit(1) (its sys.exit(0), as
    Ray's get passes it on), and stayed installed after ``fit``, keeping the finished run's
    controller alive."""
    import signal

    before = signal.getsignal(signal.SIGINT)
    job = _job(paired, tmp_path / "model", "train.num_workers=1", "train.epochs=4")
    with pytest.raises(KeyboardInterrupt):
        fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="ctrl-c",
            callbacks=(_interrupting_driver(tmp_path / "pressed", 1),))
    assert (tmp_path / "pressed").exists()
    assert signal.getsignal(signal.SIGINT) is before  # Ray's handler is gone with its run
    others = _train_controllers_alive()
    outcome = fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name="ctrl-c")
    assert signal.getsignal(signal.SIGINT) is before
    _wait_for(lambda: _train_controllers_alive() <= others, "the run's controller to stop")
    assert outcome.last_metrics["epoch"] == 4
    assert outcome.last_metrics["resumed_from"] >= 1  # the epochs before Ctrl-C are kept
    epochs = [row["epoch"] for row in read_history(job.history_path())]
    assert sorted(set(epochs)) == [1, 2, 3, 4]


def _train_controllers_alive() -> set[str]:
    from ray.util.state import list_actors

    return {actor.actor_id for actor in list_actors(
        filters=[("class_name", "=", "TrainController"), ("state", "=", "ALIVE")])}


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    """Poll ``condition`` (an actor's end is asynchronous), at most ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout:g} s for {what}"
        time.sleep(0.5)
