"""Fit one :class:`TrainJob` with a Ray Train ``TorchTrainer`` (DDP: gloo on CPU, NCCL on GPU).

The run is named and stored under the run folder, so running the same stage again with the
same output folder resumes from the latest checkpoint instead of starting over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finelabel.errors import FinelabelError
from finelabel.train.checkpoint import META_FILE, read_meta
from finelabel.train.job import TrainJob
from finelabel.train.loop import SCORE_METRIC, train_loop_per_worker


@dataclass
class FitOutcome:
    """The best model (by validation MAP) and its metrics; the last epoch's metrics."""

    checkpoint: Path
    metrics: dict[str, Any]
    last_metrics: dict[str, Any]


def make_trainer(job: TrainJob, pairs_path: Path, *, storage_path: Path, run_name: str,
                 callbacks: tuple = ()):
    import ray.data
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    checkpoints = CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=SCORE_METRIC[job.task],
                                   checkpoint_score_order="max")  # the best, plus the latest
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config=job.to_dict(),
        scaling_config=ScalingConfig(num_workers=job.train.num_workers, use_gpu=job.train.use_gpu),
        run_config=RunConfig(name=run_name, storage_path=str(storage_path),
                             checkpoint_config=checkpoints,
                             failure_config=FailureConfig(max_failures=job.train.max_failures),
                             callbacks=list(callbacks)),
        # Materialised: pairs are small, and read tasks competing with the workers for CPUs
        # can stall a full cluster. Each epoch then only re-splits the blocks in memory.
        datasets={"train": ray.data.read_parquet(str(pairs_path)).materialize()},
    )


def fit(job: TrainJob, pairs_path: Path, *, storage_path: Path, run_name: str,
        callbacks: tuple = ()) -> FitOutcome:
    """Train (or resume); the best model by validation MAP is in ``job.model_dir``."""
    trainer = make_trainer(job, pairs_path, storage_path=storage_path, run_name=run_name,
                           callbacks=callbacks)
    result = trainer.fit()
    model_dir = Path(job.model_dir)
    if not (model_dir / META_FILE).is_file():
        raise FinelabelError(f"{model_dir}: training kept no model (no epoch was validated)")
    return FitOutcome(model_dir, read_meta(model_dir)["metrics"], dict(result.metrics or {}))
