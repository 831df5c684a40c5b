"""Fit one :class:`TrainJob` with a Ray Train ``TorchTrainer`` (DDP: gloo on CPU, NCCL on GPU).

The run is named and stored under the run folder, so running the same stage again with the
same output folder resumes from the latest checkpoint instead of starting over.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from finelabel.errors import FinelabelError
from finelabel.labels import shuffle_within_polarity
from finelabel.storage import fetch, is_remote, ray_storage
from finelabel.train.checkpoint import META_FILE, read_meta
from finelabel.train.interrupts import interruptible, sigint_restored
from finelabel.train.job import TrainJob, history_location
from finelabel.train.loop import train_loop_per_worker
from finelabel.train.persisted import latest_persisted

log = logging.getLogger(__name__)


@dataclass
class FitOutcome:
    """The best model (by validation MAP) and its metrics; the last epoch's metrics."""

    checkpoint: Path
    metrics: dict[str, Any]
    last_metrics: dict[str, Any]


#: Ray Train's own console logs (its files keep every level).
RAY_TRAIN_LOG_LEVEL = "WARNING"
#: Times Ray Train retries placing a worker group that does not fit, before the run fails
#: (each wait is ``RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S``, 60 s by default). Ray's own default
#: is to retry forever, which turns a search that asks for more than exists into a hang.
STARTUP_RETRIES = 2


def make_trainer(job: TrainJob, pairs, *, storage_path: str | Path, run_name: str,
                 callbacks: tuple = ()):
    """A TorchTrainer for ``job`` over the materialised ``pairs`` dataset; its checkpoints go
    to ``storage_path``, a local folder or a storage URI."""
    from ray.train import CheckpointConfig, FailureConfig, LoggingConfig, RunConfig
    from ray.train.torch import TorchTrainer

    metric = job.training_task().selection_metric
    checkpoints = CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=metric,
                                   checkpoint_score_order="max")  # the best, plus the latest
    failures = FailureConfig(max_failures=job.train.max_failures,
                             controller_failure_limit=STARTUP_RETRIES)
    filesystem, storage = ray_storage(storage_path)
    return interruptible(TorchTrainer)(
        train_loop_per_worker,
        train_loop_config=job.to_dict(),
        scaling_config=scaling_config(job),
        torch_config=torch_config(job),
        run_config=RunConfig(name=run_name, storage_path=storage,
                             storage_filesystem=filesystem,
                             checkpoint_config=checkpoints, failure_config=failures,
                             callbacks=list(callbacks),
                             # its INFO lines (resources requested, the worker group started,
                             # each report and checkpoint) say what our epoch line says
                             logging_config=LoggingConfig(log_level=RAY_TRAIN_LOG_LEVEL)),
        datasets={"train": pairs},
    )


def scaling_config(job: TrainJob):
    from ray.train import ScalingConfig

    return ScalingConfig(num_workers=job.train.num_workers, use_gpu=job.train.use_gpu,
                         placement_strategy=job.train.placement_strategy)


def torch_config(job: TrainJob):
    """DDP's process group: NCCL between GPU workers, gloo between CPU workers."""
    from ray.train.torch import TorchConfig

    return TorchConfig(backend="nccl" if job.train.use_gpu else "gloo")


def fit(job: TrainJob, pairs_path: str | Path, *, storage_path: str | Path, run_name: str,
        callbacks: tuple = (), resume_unregistered: bool = True) -> FitOutcome:
    """Train (or resume); the best model by validation MAP is in ``job.model_dir``.

    ``pairs_path`` and ``storage_path`` are local paths or storage URIs; for a run folder on
    object storage the best model and its history are fetched here when training ends.

    Ray Train restarts lost workers itself (``train.max_failures``). A failure it charges to its
    controller instead (a worker dying while the controller talks to it, under load) ends the
    run there; it is resumed here from the latest checkpoint, within the same budget. A worker
    group that cannot be placed fails with a line that says what was asked and what is free.
    Ctrl-C aborts the run and raises ``KeyboardInterrupt``; the same call resumes it.

    ``resume_unregistered``: also resume from a checkpoint Ray had not registered (a driver
    killed meanwhile). Right where the workers record each epoch themselves before writing its
    checkpoint; not where epochs are recorded downstream of Ray (Tune trials), which may lack
    them.
    """
    from ray.train import ControllerError

    pairs = training_dataset(job, pairs_path)
    retries_left = job.train.max_failures
    while True:
        if resume_unregistered:
            job = with_persisted_checkpoint(job, storage_path, run_name)
        trainer = make_trainer(job, pairs, storage_path=storage_path, run_name=run_name,
                               callbacks=callbacks)
        try:
            with sigint_restored():
                result = trainer.fit()
            break
        except ControllerError as error:
            if _startup_timed_out(error):
                raise FinelabelError(unschedulable_message(job)) from error
            if retries_left <= 0:
                raise
            retries_left -= 1
            log.warning("run %s: Ray Train's controller failed (%s); resuming from the latest "
                        "checkpoint, %d retries left", run_name, _first_line(error), retries_left)
    if is_remote(job.model_dir):
        fetch(job.model_dir)
        fetch(history_location(job.model_dir))
    model_dir = job.model_path()
    if not (model_dir / META_FILE).is_file():
        raise FinelabelError(f"{model_dir}: training kept no model (no epoch was validated)")
    return FitOutcome(model_dir, read_meta(model_dir)["metrics"], dict(result.metrics or {}))


def with_persisted_checkpoint(job: TrainJob, storage_path: str | Path,
                              run_name: str) -> TrainJob:
    """``job`` told of the newest checkpoint its run left on storage, which Ray may not know of
    if the driver was killed before registering it (:mod:`finelabel.train.persisted`)."""
    found = latest_persisted(storage_path, run_name)
    if found is None:
        return job
    log.info("run %s: its newest checkpoint on storage is after epoch %d", run_name, found[1])
    return dataclasses.replace(job, resume_from=found[0])


def training_dataset(job: TrainJob, pairs_path: str | Path):
    """What the workers shard, materialised: the pairs (their labels shuffled within polarity
    for the control), or for in-batch training the training items' ids.

    Materialised because it is small, and read tasks competing with the workers for CPUs can
    stall a full cluster; each epoch then only re-splits the blocks in memory.
    """
    import pyarrow.parquet as pq
    import ray.data

    from finelabel.data.prepared import PreparedData

    in_batch = job.train.pairing == "in_batch"
    data = PreparedData.load(job.prepared_dir) if in_batch or job.folds > 1 else None
    kept = job.kept_items(data) if data is not None else None
    if in_batch:
        ids = data.indices("train")
        if kept is not None:
            ids = ids[kept[ids]]
        return ray.data.from_items([{"item_id": int(i)} for i in ids]).materialize()
    shuffle = job.loss.shuffle_labels and job.training_task().beta(job.loss) > 0
    filesystem, path = ray_storage(pairs_path)
    if not shuffle and kept is None:
        return ray.data.read_parquet(path, filesystem=filesystem).materialize()
    frame = pq.read_table(path, filesystem=filesystem).to_pandas()
    if kept is not None:  # an out-of-fold net: pairs of two texts it may learn
        left, right = job.training_task().columns
        frame = frame[kept[frame[left].to_numpy()] & kept[frame[right].to_numpy()]]
    if shuffle:
        rng = np.random.default_rng(job.train.seed)
        frame["hardness"] = shuffle_within_polarity(frame["hardness"].to_numpy(),
                                                    frame["positive"].to_numpy(), rng)
    return ray.data.from_pandas(frame.reset_index(drop=True)).materialize()


def _startup_timed_out(error: BaseException) -> bool:
    from ray.train.v2._internal.exceptions import WorkerGroupStartupTimeoutError

    return isinstance(getattr(error, "controller_failure", None), WorkerGroupStartupTimeoutError)


def unschedulable_message(job: TrainJob) -> str:
    """What could not be scheduled, how it was to be spread, and what each node has free."""
    import ray

    per_worker = scaling_config(job)._resources_per_worker_not_none
    free, total = ray.available_resources(), ray.cluster_resources()
    have = ", ".join(f"{free.get(k, 0):g} of {total.get(k, 0):g} {k}" for k in per_worker)
    nodes = _free_per_node(per_worker)
    return (f"Ray could not place {job.train.num_workers} Train worker(s) of {per_worker} each "
            f"({job.train.placement_strategy}, {STARTUP_RETRIES + 1} tries); the cluster has "
            f"{have} free{f' ({nodes})' if nodes else ''}. Lower train.num_workers (for a "
            "search, max_concurrent_trials), or add nodes")


def _free_per_node(keys) -> str:
    """'node 1a2b3c: 0.9 CPU free, ...' for every alive node (what a spread group needs to
    see); empty where Ray does not say."""
    import ray

    try:  # no public API gives a node's free resources without the dashboard
        from ray._private.state import available_resources_per_node
        free = available_resources_per_node()
    except Exception:  # noqa: BLE001 - a private API: the message just says less
        return ""
    alive = [node["NodeID"] for node in ray.nodes() if node.get("Alive")]
    return "; ".join(
        f"node {node[:6]}: " + ", ".join(f"{free.get(node, {}).get(k, 0):g} {k}" for k in keys)
        for node in alive)


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(error).__name__
