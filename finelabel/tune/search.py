"""Run a Ray Tune search over the train stage and summarise its trials.

Every trial trains on the same labelled pairs with its own values (``run_trial``); ASHA stops
poor trials after ``grace_period`` epochs; the best trial is the one with the best validation
score at any epoch, the same rule that keeps each trial's model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from finelabel.config import Config
from finelabel.errors import FinelabelError
from finelabel.storage import ray_storage
from finelabel.tune.space import SearchSpec, param_space
from finelabel.tune.trial import error_summary, run_trial, trial_model_dir

log = logging.getLogger(__name__)

#: Tune's share of a CPU for a trial's driver; its Ray Train workers reserve their own.
TRIAL_DRIVER_CPU = 0.1
#: CPUs left free for the Ray Data tasks each trial runs to read its pairs.
DATA_RESERVE_CPU = 1.0


def trial_resources(config: Config) -> dict[str, float]:
    """What one trial holds while it runs: its driver and its Ray Train workers."""
    workers = max(config.train.num_workers, 1)  # 0 workers train in the trial's own process
    need = {"CPU": TRIAL_DRIVER_CPU + workers * 1.0}
    if config.train.use_gpu:
        need["GPU"] = float(workers)
    return need


def fit_concurrency(config: Config, spec: SearchSpec, cluster: dict[str, float]) -> int:
    """How many trials run at once: the spec's cap, lowered to what ``cluster`` can hold.

    Trials asking for more than the cluster has would wait for resources that never free up;
    a search that cannot run even one trial fails now, saying what it needs.
    """
    need = trial_resources(config)
    room = []
    for key, amount in need.items():
        total = cluster.get(key, 0.0) - (DATA_RESERVE_CPU if key == "CPU" else 0.0)
        room.append(int(total // amount))
    fits = min(room)
    if fits < 1:
        have = ", ".join(f"{cluster.get(k, 0):g} {k}" for k in need)
        raise FinelabelError(
            f"a trial needs {', '.join(f'{v:g} {k}' for k, v in need.items())} (its driver and "
            f"{max(config.train.num_workers, 1)} Train worker(s)) plus {DATA_RESERVE_CPU:g} CPU "
            f"for reading its pairs, but the cluster has {have}: lower train.num_workers")
    if fits < spec.max_concurrent_trials:
        log.warning("running %d trials at a time, not %d: the cluster holds no more (%s per "
                    "trial)", fits, spec.max_concurrent_trials, need)
    return min(fits, spec.max_concurrent_trials)


def _trainable(config: Config, prepared_dir: str, pairs: str, search_dir: str):
    from ray import tune

    return tune.with_resources(
        tune.with_parameters(run_trial, base=config, prepared_dir=prepared_dir,
                             pairs=pairs, search_dir=search_dir),
        {"cpu": TRIAL_DRIVER_CPU})


def make_tuner(config: Config, spec: SearchSpec, *, prepared_dir: str, pairs: str,
               search_dir: str, callbacks: tuple = ()):
    """A Tuner over the run folder's pairs; every argument is a path or a storage URI (the
    search's state, trials and models then live in the bucket)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator

    trainable = _trainable(config, prepared_dir, pairs, search_dir)
    filesystem, path = ray_storage(search_dir)
    parent, name = path.rstrip("/").rsplit("/", 1)
    scheduler = (ASHAScheduler(time_attr="epoch", max_t=config.train.epochs,
                               grace_period=spec.grace_period,
                               reduction_factor=spec.reduction_factor)
                 if spec.grace_period else FIFOScheduler())
    return tune.Tuner(
        trainable,
        param_space=param_space(spec),
        tune_config=tune.TuneConfig(
            metric=spec.metric, mode=spec.mode, num_samples=spec.num_samples, scheduler=scheduler,
            # The generator itself caps concurrency: Tune ignores max_concurrent_trials for it.
            search_alg=BasicVariantGenerator(
                max_concurrent=fit_concurrency(config, spec, ray.cluster_resources()),
                random_state=spec.seed)),
        run_config=tune.RunConfig(name=name, storage_path=parent, storage_filesystem=filesystem,
                                  callbacks=list(callbacks)),
    )


def restore_tuner(config: Config, *, prepared_dir: str, pairs: str, search_dir: str):
    """The stopped search in ``search_dir``: unfinished and failed trials run again.

    Resumed, not restarted: a restarted trial gets a new id, and with it a new Ray Train run
    (starting over) and a new MLflow run. Trials report no Tune checkpoint, so a resumed trial
    starts its function again and Ray Train, finding its run by the trial id, resumes from the
    run's latest checkpoint.
    """
    from ray import tune

    filesystem, path = ray_storage(search_dir)
    return tune.Tuner.restore(path, _trainable(config, prepared_dir, pairs, search_dir),
                              resume_unfinished=True, resume_errored=True,
                              storage_filesystem=filesystem)


def summarise(grid, spec: SearchSpec, search_dir: str | Path) -> dict[str, Any]:
    """Every trial (values, epochs run, best score, status) best first, and the best one."""
    trials = [_trial_row(result, spec) for result in grid]
    scored = [t for t in trials if t["best_score"] is not None]
    sign = -1.0 if spec.mode == "max" else 1.0
    ordered = sorted(scored, key=lambda t: sign * t["best_score"]) + [
        t for t in trials if t["best_score"] is None]
    if not scored:
        return {"metric": spec.metric, "mode": spec.mode, "best": None, "trials": ordered}
    best = ordered[0]
    return {"metric": spec.metric, "mode": spec.mode, "trials": ordered,
            "best": {**best, "model_dir": trial_model_dir(search_dir, best["trial_id"])}}


def _trial_row(result, spec: SearchSpec) -> dict[str, Any]:
    history = result.metrics_dataframe
    values = history[spec.metric].dropna() if history is not None and spec.metric in history \
        else None
    best_score = None
    epochs = int((result.metrics or {}).get("epoch", 0))
    if values is not None and len(values):
        best_score = float(values.max() if spec.mode == "max" else values.min())
    return {"trial_id": _trial_id(result),
            "params": {k: _plain(v) for k, v in (result.config or {}).items()},
            "epochs": epochs, "best_score": best_score, "status": _status(result.error, epochs),
            "error": error_summary(result.error)}


def _status(error: object, epochs: int) -> str:
    """ERROR, DONE, or INCOMPLETE: a trial that ran no epoch has nothing done to report."""
    if error:
        return "ERROR"
    return "DONE" if epochs else "INCOMPLETE"


def _trial_id(result) -> str:
    return (result.metrics or {}).get("trial_id") or Path(result.path).name


def trial_curves(grid, metric: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Trial id -> (epochs, ``metric`` per epoch), for the plot."""
    curves = {}
    for result in grid:
        history = result.metrics_dataframe
        if history is None or metric not in history or "epoch" not in history:
            continue
        rows = history[["epoch", metric]].dropna()
        curves[_trial_id(result)] = (rows["epoch"].to_numpy(), rows[metric].to_numpy())
    return curves


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
