"""How each stage's cost grows with the collection: the built-in synthetic data at several
sizes (20 training pairs per item, as 2k items -> 40k pairs), every stage run as a user runs it
(``tracked_stage``, one epoch for the two trainings), wall time and peak memory per stage.

A stage whose time grows faster than the items (exponent > 1 between the two largest sizes) is
the one to move onto Ray or stream. Synthetic texts draw from fixed word pools, so the
vocabulary and the word graph stop growing early: real corpora grow theirs (Heaps' law).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from finelabel.benchmark.memory import PeakMemory
from finelabel.config import Config, SyntheticConfig, load_config

log = logging.getLogger(__name__)

CATEGORIES = 10
PAIRS_PER_ITEM = 20
#: Stage -> what one measurement of it covers.
STAGES = {"prepare": "vocabulary, word vectors, word graph, item shards",
          "pairs": "sampled training and siamese pairs",
          "siamese_epoch": "one epoch of the siamese net (in-process Ray Train)",
          "label": "embed texts, score and bin every training pair, write them",
          "train_epoch": "one epoch of the dual-path model (in-process Ray Train)",
          "evaluate": "both test protocols and the plots"}


@dataclass
class StageCost:
    stage: str
    items: int
    pairs: int
    seconds: float
    driver_mb: float
    worker_mb: float
    workers_total_mb: float
    #: Measurements this cost is the median of.
    repeats: int = 1


def synthetic_size(items: int) -> SyntheticConfig:
    """A synthetic set of about ``items`` items, 4 in 5 for training, in 10 categories."""
    per = max(items // CATEGORIES, 5)
    train = max(per * 4 // 5, 2)
    return SyntheticConfig(categories=CATEGORIES, train_per_category=train,
                           test_per_category=per - train, feature_dim=128, seed=0)


def growth_config(items: int, data_root: Path, out: Path, overrides: Sequence[str]) -> Config:
    """The default recipe on the size's data, one epoch a training, every run in ``out``."""
    size = synthetic_size(items)
    pairs = PAIRS_PER_ITEM * size.categories * (size.train_per_category + size.test_per_category)
    return load_config(None, [
        "data.dataset=wikipedia", f"data.root={data_root}", "data.image_source=features",
        f"pairs.n_pairs={pairs}", f"pairs.siamese_pairs={pairs}",
        "siamese.epochs=1", "siamese.num_workers=0", "siamese.patience=0",
        "train.epochs=1", "train.num_workers=0", "train.patience=0",
        f"tracking.tracking_uri=sqlite:///{(out / 'mlflow.db').resolve()}",
        *overrides])


def _timed(stage: str, items: int, pairs: int, work: Callable[[], Any]) -> StageCost:
    with PeakMemory() as memory:
        started = time.perf_counter()
        work()
        seconds = time.perf_counter() - started
    peak = memory.result
    log.info("growth: %s at %d items: %.1f s", stage, items, seconds)
    return StageCost(stage, items, pairs, seconds, peak.driver_mb, peak.worker_mb,
                     peak.workers_total_mb)


def _stand_in(config: Config, out: Path, task: str) -> None:
    """An untrained checkpoint where a size is too large to train on here: the stages after
    it cost the same whatever the weights."""
    import torch

    from finelabel.data.prepared import PreparedData
    from finelabel.run_folder import RunFolder
    from finelabel.train.checkpoint import save_checkpoint
    from finelabel.train.tasks import get_task

    data = PreparedData.load(out)
    torch.manual_seed(0)
    weight = config.loss.label_weight if task == "dual" else 0.0
    model = get_task(task).build_model(config.model, data, label_weight=weight)
    save_checkpoint(RunFolder.at(out).model(task), model, task=task, cfg=config.model,
                    data=data, label_weight=weight)


def measure_size(items: int, scratch: Path, *, train_max_items: int,
                 overrides: Sequence[str] = (), run: str = "") -> list[StageCost]:
    """Every stage once at one size, in the run folder ``run-{items}{run}``; the caller holds a
    Ray session."""
    from finelabel.data.synthetic.dataset import write_synthetic_dataset
    from finelabel.stages.runner import tracked_stage

    data_root, out = scratch / f"data-{items}", scratch / f"run-{items}{run}"
    # A finished stage left here would not be redone. A repeat gets a folder of its own: its
    # MLflow store is a file in it, which this process keeps open once used.
    shutil.rmtree(out, ignore_errors=True)
    size = synthetic_size(items)
    write_synthetic_dataset(data_root, size, images=False)
    config = growth_config(items, data_root, out, overrides)
    n = size.categories * (size.train_per_category + size.test_per_category)
    pairs = config.pairs.n_pairs
    costs = []
    for stage in ("prepare", "pairs"):
        costs.append(_timed(stage, n, pairs, lambda s=stage: tracked_stage(config, out, s)))
    train = n <= train_max_items
    for stage, task, next_stage in (("siamese", "siamese", "label"), ("train", "dual",
                                                                       "evaluate")):
        if train:
            costs.append(_timed(f"{stage}_epoch", n, pairs,
                                lambda s=stage: tracked_stage(config, out, s)))
        else:
            _stand_in(config, out, task)
        costs.append(_timed(next_stage, n, pairs,
                            lambda s=next_stage: tracked_stage(config, out, s)))
    order = list(STAGES)
    return sorted(costs, key=lambda c: order.index(c.stage))


def growth_exponents(costs: Sequence[StageCost]) -> dict[str, float]:
    """{stage: d log(seconds) / d log(items)} between the two largest sizes it ran at (the
    trainings stop at ``train_max_items``: above it they are not run, and have no cost)."""
    out = {}
    for stage in STAGES:
        runs = sorted((c for c in costs if c.stage == stage), key=lambda c: c.items)
        if len(runs) >= 2:
            small, large = runs[-2], runs[-1]
            out[stage] = (math.log(large.seconds / small.seconds)
                          / math.log(large.items / small.items))
    return out


def median_costs(runs: Sequence[Sequence[StageCost]]) -> list[StageCost]:
    """Per stage, the run with the median seconds, in the order of the first run. Of an even
    count, the lower middle: a slower small size would flatter the exponent."""
    result = []
    for first in runs[0]:
        same = sorted((c for run in runs for c in run if c.stage == first.stage),
                      key=lambda c: c.seconds)
        result.append(replace(same[(len(same) - 1) // 2], repeats=len(same)))
    return result


def measure_growth(sizes: Sequence[int], scratch: Path, *, train_max_items: int,
                   overrides: Sequence[str] = (), warmup_items: int = 100, repeats: int = 1,
                   progress: Callable[[str], None] = print) -> list[StageCost]:
    """Every stage at every size, smallest first, after one untimed pass at ``warmup_items``
    (first imports, Ray Data's and Ray Train's first start) that would weigh on the smallest.

    Every size but the largest is measured ``repeats`` times and each stage keeps its median:
    a stage of a second or two moves by half between two runs on a busy machine, which swings
    an exponent taken over one decade by 0.2. The largest size runs once: its stages are long.
    """
    if warmup_items:
        progress(f"growth: warm-up at {warmup_items} items (not timed)")
        measure_size(warmup_items, scratch, train_max_items=warmup_items, overrides=overrides)
    costs: list[StageCost] = []
    for items in sorted(sizes):
        times = repeats if items < max(sizes) else 1
        progress(f"growth: {items:,} items ({PAIRS_PER_ITEM * items:,} pairs)"
                 + (f", median of {times} runs" if times > 1 else ""))
        runs = [measure_size(items, scratch, train_max_items=train_max_items,
                             overrides=overrides, run=f"-repeat{i}" if i else "")
                for i in range(times)]
        for cost in median_costs(runs):
            progress(f"  {cost.stage:14s} {cost.seconds:8.1f} s   driver "
                     f"{cost.driver_mb:7.0f} MB   largest worker {cost.worker_mb:7.0f} MB")
            costs.append(cost)
    return costs


def as_records(costs: Sequence[StageCost]) -> list[dict[str, Any]]:
    return [asdict(c) for c in costs]
