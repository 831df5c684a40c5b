"""Run several independent trainings at once as Ray tasks, as many as the cluster holds.

Each task drives its own Ray Train run (the siamese net of one fold, the methods of one seed):
the task itself takes a tenth of a CPU, its Train workers reserve their own. Starting more than
fit would leave runs waiting for resources that the others hold; one more CPU is left free for
the Ray Data tasks that read their inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# The same shares as a Tune trial's: a driver's tenth of a CPU, one CPU kept for reading.
from finelabel.tune.search import DATA_RESERVE_CPU
from finelabel.tune.search import TRIAL_DRIVER_CPU as DRIVER_CPU


def room_for(per_run: dict[str, float]) -> int:
    """How many runs needing ``per_run`` (each with its driver task) fit on the cluster now."""
    import ray

    total = ray.cluster_resources()
    fits = []
    for key, amount in per_run.items():
        have = total.get(key, 0.0) - (DATA_RESERVE_CPU if key == "CPU" else 0.0)
        fits.append(int(have // amount) if amount > 0 else len(per_run))
    return max(1, min(fits))


def run_concurrently(fn: Callable[..., Any], calls: Sequence[tuple], *, room: int,
                     on_done: Callable[[tuple, Any], None] | None = None) -> list[Any]:
    """``fn(*args)`` for each ``args`` of ``calls`` as Ray tasks, ``room`` at a time; the
    results in the order of ``calls``. ``on_done(args, result)`` runs on the driver as each
    finishes (to record it at once). A task's error is raised here, after the running ones
    are cancelled."""
    import ray
    from ray.data import DataContext

    progress = DataContext.get_current().enable_progress_bars  # the driver's choice
    task = ray.remote(_with_progress).options(num_cpus=DRIVER_CPU, max_retries=0)
    pending = list(enumerate(calls))
    running: dict[Any, int] = {}
    results: dict[int, Any] = {}
    try:
        while pending or running:
            while pending and len(running) < max(room, 1):
                index, args = pending.pop(0)
                running[task.remote(fn, progress, *args)] = index
            done, _ = ray.wait(list(running), num_returns=1)
            index = running.pop(done[0])
            results[index] = ray.get(done[0])
            if on_done is not None:
                on_done(calls[index], results[index])
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
    return [results[index] for index in range(len(calls))]


def _with_progress(fn: Callable[..., Any], progress: bool, *args: Any) -> Any:
    """``fn(*args)`` in a Ray task, with the driver's choice of Ray Data progress bars (a task
    starts with Ray's default, bars on, which fills job logs with redrawn bars)."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = progress
    return fn(*args)
