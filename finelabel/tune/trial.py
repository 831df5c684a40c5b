"""One Ray Tune trial: the train stage with the trial's values, reported to Tune every epoch.

Each trial is a full Ray Train run (DDP with ``train.num_workers`` workers) on the labelled pairs
of the run folder. Its epochs reach Tune through Ray's ``TuneReportCallback``, so ASHA can stop a
poor trial early; rank 0 keeps the trial's best model in its own folder. Trials do not write to
MLflow themselves: the search driver records them (one writer per store).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finelabel.config import Config, with_values
from finelabel.storage import join
from finelabel.train.job import TrainJob
from finelabel.train.trainer import fit


def trial_config(base: Config, params: Mapping[str, Any]) -> Config:
    """``base`` with the trial's sampled values (dotted config keys) applied and validated."""
    return with_values(base, dict(params), where="trial")


def error_summary(error: object, limit: int = 500) -> str | None:
    """A trial's error as one line: the last of its message, where Ray puts the cause."""
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return lines[-1][:limit] if lines else None


def trial_model_dir(search_dir: str | Path, trial_id: str) -> str:
    """Where rank 0 of trial ``trial_id`` keeps its best model (a path or a storage URI, as
    ``search_dir`` is)."""
    return join(search_dir, "models", trial_id)


def run_trial(params: dict[str, Any], *, base: Config, prepared_dir: str, pairs: str,
              search_dir: str) -> None:
    """Tune's function trainable (bound with ``tune.with_parameters``)."""
    import ray.tune
    from ray.tune.integration.ray_train import TuneReportCallback

    config = trial_config(base, params)
    trial_id = ray.tune.get_context().get_trial_id()
    job = TrainJob("dual", prepared_dir, trial_model_dir(search_dir, trial_id), config.model,
                   config.loss, config.train)
    # Its epochs reach MLflow through Ray and Tune: a checkpoint Ray never registered may be
    # of epochs the search never recorded, so resume from Ray's own only.
    fit(job, pairs, storage_path=join(search_dir, "train_runs"), run_name=trial_id,
        callbacks=(TuneReportCallback(),), resume_unregistered=False)
