"""Out-of-fold siamese nets (``label.folds`` = k >= 2), trained at once on Ray.

Net f trains on every fold of the training items but f (Ray Train, as the one-net siamese
stage), so the label stage can score a pair with nets that did not learn its texts. A net
that labels the very texts it was trained on rates them as more alike than it would rate new
ones (AUC of r, positive vs negative, 0.948 on training pairs and 0.920 on test pairs on
English Wikipedia): labels from held-out nets say more about a pair than about the net's memory.
"""

from __future__ import annotations

from typing import Any

from finelabel.config import Config
from finelabel.run_folder import RunFolder
from finelabel.stages.concurrent import DRIVER_CPU, room_for, run_concurrently
from finelabel.stages.pipeline_state import train_run_name


def fold_job(config: Config, folder: RunFolder, fold: int):
    """The Ray Train job of the net that does not train on fold ``fold``."""
    from finelabel.train.job import TrainJob

    return TrainJob("siamese", folder.location,
                    folder.location_of(folder.siamese_nets(config.label.folds)[fold]), config.model,
                    config.loss, config.siamese, holdout_fold=fold, folds=config.label.folds)


def fit_fold(config: Config, location: str, fold: int) -> dict[str, Any]:
    """Train (or resume) one fold's net (in a task, on any node: ``location`` is the run
    folder's path or URI); its best validation metrics."""
    from finelabel.train.trainer import fit

    folder = RunFolder.at(location)
    outcome = fit(fold_job(config, folder, fold), folder.location_of(folder.pairs("siamese")),
                  storage_path=folder.location_of(folder.ray_results),
                  run_name=f"{train_run_name(config, 'siamese')}-fold{fold}")
    return {"best_epoch": outcome.metrics.get("epoch", 0),
            **{f"best_{k}": v for k, v in outcome.metrics.items() if k.startswith("val_")}}


def fit_fold_nets(config: Config, folder: RunFolder, *, room: int | None = None
                  ) -> dict[str, float]:
    """Every fold's net, ``room`` at a time (default: as many as the cluster holds); their
    best validation metrics by fold."""
    from finelabel.train.job import history_path

    workers = max(config.siamese.num_workers, 1)
    need = {"CPU": DRIVER_CPU + workers, **({"GPU": workers} if config.siamese.use_gpu else {})}
    folds = list(range(config.label.folds))
    results = run_concurrently(fit_fold, [(config, folder.location, f) for f in folds],
                               room=room or room_for(need))
    for net in folder.siamese_nets(config.label.folds):  # trained by tasks on any node
        folder.fetch(net)
        folder.fetch(history_path(net))
    return {f"fold{fold}_{key}": value for fold, result in zip(folds, results)
            for key, value in result.items() if isinstance(value, (int, float))}
