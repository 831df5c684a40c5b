"""The per-worker training function shared by Ray Train (siamese, dual) and every Tune trial.

Each epoch: train on this worker's shard, decay the learning rate, validate on rank 0, keep the
best model so far in ``job.model_dir``, then report once through :class:`EpochReporter` (Ray on
every rank, MLflow and the log on rank 0). Ray's checkpoints serve resuming: a restarted worker,
or a rerun of the same run name, continues after the latest one.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from finelabel.data.prepared import PreparedData
from finelabel.run_folder import RunFolder, replacing
from finelabel.storage import fetch, is_remote, publish
from finelabel.tracking import Tracker
from finelabel.tracking.funnel import HistorySink, MetricsFunnel, MlflowSink, PrintSink
from finelabel.tracking.outage import fail_fast_on_lost_servers
from finelabel.train.across_workers import gather_ids
from finelabel.train.checkpoint import MODEL_FILE, load_state, load_weights, save_checkpoint, unwrap
from finelabel.train.hardness import InBatchHardness
from finelabel.train.job import TrainJob, history_location
from finelabel.train.persisted import open_checkpoint
from finelabel.train.shared_factors import broadcast_parameters, check_in_sync, share_factors
from finelabel.train.steps import PairBatch, train_epoch
from finelabel.train.tasks import Task

log = logging.getLogger(__name__)
#: One line per epoch, from rank 0.
progress = logging.getLogger("finelabel.progress")
#: Modules of Ray Train that log every report and checkpoint of every rank at INFO.
RAY_TRAIN_CHATTER = ("ray.train.v2._internal.execution.context",
                     "ray.train.v2._internal.execution.storage")


def quiet_ray_train() -> None:
    """Ray Train logs each report and checkpoint ("Reporting training result ...") at INFO,
    two lines per epoch that our own epoch line already says. Its loggers are named after
    the module (or, in 2.60, its file path): quiet both."""
    import importlib

    for name in RAY_TRAIN_CHATTER:
        module = importlib.import_module(name)
        for logger_name in (name, getattr(module, "__file__", name)):
            logging.getLogger(logger_name).setLevel(logging.WARNING)


class EpochReporter:
    """The one funnel for epoch metrics: Ray on every rank; MLflow and the log on rank 0."""

    def __init__(self, job: TrainJob, rank: int) -> None:
        self.job, self.rank = job, rank
        self.funnel = MetricsFunnel()
        if rank == 0:
            # Logged, not printed: Ray Train both prints and logs a worker's print() calls.
            self.funnel.add(PrintSink(prefix=job.task, logger=progress))
            if is_remote(job.model_dir):  # a resumed run appends to the bucket's epochs
                fetch(history_location(job.model_dir))
            self.funnel.add(HistorySink(job.history_path()))
            if job.mlflow_run_id:
                fail_fast_on_lost_servers()  # this worker process may not have the CLI's env
                tracker = Tracker(job.tracking_uri)
                self.funnel.add(MlflowSink(tracker, job.mlflow_run_id))

    def report(self, metrics: dict[str, float], epoch: int, checkpoint_dir: str | None) -> None:
        import ray.train

        self.funnel.report(metrics, epoch)
        if self.rank == 0 and is_remote(self.job.model_dir):  # the driver may be elsewhere
            publish(self.job.history_path(), history_location(self.job.model_dir))
        # After the funnel: a checkpoint on storage is then always of an epoch the history and
        # MLflow hold, so resuming from one Ray had not registered leaves no gap in them.
        checkpoint = ray.train.Checkpoint.from_directory(checkpoint_dir) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint)


def shard_arrays(shard) -> dict[str, np.ndarray]:
    """This worker's whole shard of pairs as columns, read once.

    Pairs are a few ints each; holding them saves every epoch a round trip to the split
    coordinator and the local shuffle buffer, and gives a true per-epoch shuffle.
    """
    parts = list(shard.iter_batches(batch_size=1 << 16, batch_format="numpy"))
    if not parts:
        return {}
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def batches(pairs: dict[str, np.ndarray], data: PreparedData, task: Task, job: TrainJob,
            world_size: int, epoch: int,
            hardness: InBatchHardness | None = None) -> Iterator[PairBatch]:
    """This worker's batches for one epoch, in a permutation seeded by the epoch.

    ``pairs`` holds this worker's sampled pairs, or (``train.pairing=in_batch``) its training
    items, each batch of which gives every (text, image) pair among its items.
    """
    per_worker = max(2, job.train.batch_size // max(world_size, 1))
    count = len(next(iter(pairs.values()))) if pairs else 0
    order = np.random.default_rng(job.train.seed + epoch).permutation(count)
    for start in range(0, count, per_worker):
        rows = order[start:start + per_worker]
        if job.train.pairing == "in_batch":
            ids = pairs["item_id"][rows]
            # Every worker's items form one batch (each worker's shard holds as many rows).
            across = gather_ids(ids) if world_size > 1 else None
            if len(ids if across is None else across[0]) >= 2:  # a lone item has no negative
                yield task.item_batch(ids, data, hardness, across=across)
        else:
            yield task.batch({name: column[rows] for name, column in pairs.items()}, data)


def seed_epoch(seed: int, epoch: int, rank: int) -> None:
    """Seed dropout for (epoch, rank): a resumed run redraws exactly what it would have."""
    torch.manual_seed(seed * 1_000_003 + epoch * 1009 + rank)


def keep_best(job: TrainJob, model: torch.nn.Module, data: PreparedData,
              metrics: dict[str, float]) -> None:
    """Replace ``job.model_dir`` with this epoch's model, atomically (then in the bucket, for
    a run folder on object storage)."""
    with replacing(job.model_path()) as tmp:
        save_checkpoint(tmp, model, task=job.task, cfg=job.model, data=data, metrics=metrics,
                        label_weight=job.training_task().loss_config(job.loss).label_weight)
    if is_remote(job.model_dir):
        publish(job.model_path(), job.model_dir)


def _restore(job: TrainJob, model, optimizer, scheduler) -> tuple[int, float, int]:
    """Load the newer of Ray's latest checkpoint and ``job.resume_from``, if any: (first epoch
    to run, best score, its epoch). Within a run Ray's is the newer (a restarted worker); on a
    rerun after the driver was killed, the one Ray had not registered yet may be."""
    import ray.train

    state = None
    registered = ray.train.get_checkpoint()
    opened = [registered.as_directory()] if registered is not None else []
    if job.resume_from:
        opened.append(open_checkpoint(job.resume_from))
    for checkpoint in opened:
        with checkpoint as path:
            candidate = load_state(path)
            if state is None or candidate["epoch"] > state["epoch"]:
                state = candidate
                load_weights(model, Path(path) / MODEL_FILE)
    if state is None:
        return 0, -np.inf, 0
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    log.info("resuming after epoch %d", state["epoch"])
    return state["epoch"], state["best"], state.get("best_epoch", state["epoch"])


def stop_early(patience: int, epoch: int, best_epoch: int, world_size: int) -> bool:
    """True when ``patience`` epochs passed without a better validation score; rank 0 knows
    (it validates) and tells the others, so every rank reports the same number of times."""
    stop = bool(patience) and epoch - best_epoch >= patience
    if world_size > 1:
        import torch.distributed as dist

        flag = torch.tensor([int(stop)])
        dist.broadcast(flag, src=0)
        stop = bool(flag.item())
    return stop


def hardness_source(job: TrainJob, task: Task) -> InBatchHardness | None:
    """Where in-batch pairs get their labels: the label stage's label model (None at beta 0)."""
    if job.train.pairing != "in_batch" or task.beta(job.loss) == 0:
        return None
    seed = job.train.seed if job.loss.shuffle_labels else None
    folder = RunFolder.at(job.prepared_dir)
    return InBatchHardness.load(folder.fetch(folder.label_model).label_model, shuffle_seed=seed)


def training_device(use_gpu: bool) -> torch.device:
    """Ray Train's GPU for a GPU run, else the CPU. Not Ray's device alone: in local mode
    (``num_workers=0``) the loop runs in the driver, which Ray hands ``cuda:0`` on any machine
    with a GPU, ``use_gpu`` or not."""
    import ray.train.torch

    return ray.train.torch.get_device() if use_gpu else torch.device("cpu")


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """Ray Train's per-worker function: ``loop_config`` is a :class:`TrainJob` as a dict."""
    import ray.train
    import ray.train.torch

    quiet_ray_train()
    job = TrainJob.from_dict(loop_config)
    task = job.training_task()
    loss = task.loss_config(job.loss)
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(job.train.seed)  # the same initial weights on every rank and every run
    data = PreparedData.load(job.prepared_dir)
    model = task.build_model(job.model, data, loss.label_weight)
    # a sampled batch's rows on each side, or twice that through the siamese net's one encoder
    shared = share_factors(model, 2 * job.train.batch_size) \
        if world > 1 and job.train.share_factors else []
    device = training_device(job.train.use_gpu)
    # One worker needs no DDP wrapper; moving the model ourselves keeps local mode on the CPU
    model = ray.train.torch.prepare_model(model, move_to_device=device) if world > 1 \
        else model.to(device)
    if shared:
        broadcast_parameters(unwrap(model), shared)
    # Fused Adam: one kernel over all parameters, ~0.63 of the FLOP bound vs 0.39 for the loop.
    optimizer = torch.optim.Adam(model.parameters(), lr=job.train.lr,
                                 weight_decay=job.train.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=job.train.lr_decay)
    start, best, best_epoch = _restore(job, model, optimizer, scheduler)
    reporter = EpochReporter(job, rank)
    pairs = shard_arrays(ray.train.get_dataset_shard("train"))
    hardness = hardness_source(job, task)
    for epoch in range(start, job.train.epochs):
        seed_epoch(job.train.seed, epoch, rank)
        stats = train_epoch(model, batches(pairs, data, task, job, world, epoch, hardness),
                            optimizer, loss, beta=task.beta(loss), device=device)
        metrics = {"epoch": epoch + 1, "resumed_from": start, "lr": optimizer.param_groups[0]["lr"],
                   **stats}
        scheduler.step()
        check_in_sync(unwrap(model), shared)
        if rank != 0:
            reporter.report(metrics, epoch + 1, None)
        else:
            metrics.update(task.validate(unwrap(model), data, device))
            score = metrics[task.selection_metric]
            if score > best:
                best, best_epoch = score, epoch + 1
                keep_best(job, model, data, metrics)
            metrics["best_" + task.selection_metric] = best
            state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                     "epoch": epoch + 1, "best": best, "best_epoch": best_epoch}
            with tempfile.TemporaryDirectory() as tmp:
                save_checkpoint(tmp, model, task=job.task, cfg=job.model, data=data, state=state,
                                metrics=metrics, label_weight=loss.label_weight)
                reporter.report(metrics, epoch + 1, tmp)
        if stop_early(job.train.patience, epoch + 1, best_epoch, world):
            if rank == 0:  # the others follow its word and do not know the best epoch
                log.info("stopping after epoch %d: no better %s since epoch %d", epoch + 1,
                         task.selection_metric, best_epoch)
            break
