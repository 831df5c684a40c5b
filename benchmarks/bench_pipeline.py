"""Speed of the Ray pipeline: actor-pool labelling, Ray Train against a plain loop, 2 workers vs 1.

Prints figures, asserts nothing. The machine is shared and noisy, so every figure is a median of
repeats and the targets are ratios within one run (the runs being interleaved). It prepares its
own data with the real stages (``prepare``, ``make_pairs``) in a scratch run folder:

1. Labelling the paper's largest setting, 409,600 training pairs, end to end through
   ``finelabel.stages.label.label_pairs`` (embed each distinct text once on one actor pool, score
   the pairs on another, bin, write Parquet once) with a random-weight siamese checkpoint (the
   weights do not change the cost). The breakdown times the stage's own sub-functions, wrapped in
   this process only; "compute alone" runs the same actor classes in this process, one thread,
   with no Ray. Target: >= 20,000 pairs/s.
2. Ray Train, one worker (``make_trainer(...).fit()``) against the same loop in this process
   (``Task.batch`` + ``train_epoch``, same model, batch size, fused Adam, learning-rate decay,
   validation every epoch), at the same torch thread count. Steady state = the loop's own
   ``pairs_per_s`` over epochs 2.. (epoch 1 carries the dataset iterator's warm-up); the
   wall-clock ratio includes Ray Train's start-up, checkpoints and shutdown. Target: >= 0.9.
3. Two workers against one on this machine: global pairs/s (DDP over gloo, 1 CPU per worker).

Diagnostics that say where the time goes: the same in-process loop fed by the library's own
``finelabel.train.loop.batches`` over a Ray Data ``streaming_split(1)`` shard (Ray Data without
Ray Train); Ray Data iteration alone; plain DDP with 2 processes and no Ray (plus a gloo
all-reduce of the model's size alone); the plain loop with 2 threads; and the CPU capacity
actually free (2 busy processes' work / 1's: 2.0 on two idle cores), at the start and the end.

    .venv/bin/python benchmarks/bench_pipeline.py            # ~7-9 min on 2 shared cores
    .venv/bin/python benchmarks/bench_pipeline.py --quick    # ~1.5-3 min smoke run
    .venv/bin/python benchmarks/bench_pipeline.py --wikipedia /work/shared/datasets/wikipedia_en
    .venv/bin/python benchmarks/bench_pipeline.py --train-pairs 409600 --train-repeats 1 \
        --label-repeats 1 --skip-two-workers                # training at the paper's scale, ~4 min

Ray Train's worker gets 1 CPU and so ``OMP_NUM_THREADS=1`` (Ray's default); the plain loop uses
``--threads`` (default 1, the same). The Ray side's actual thread count is recorded from inside
the worker by a thin wrapper around the library's per-worker function; ``--ray-threads K`` makes
that wrapper call ``torch.set_num_threads(K)`` first (the 1-CPU reservation stays).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")  # before Ray is imported

import argparse
import contextlib
import dataclasses
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

REPO = Path(__file__).resolve().parents[1]
LABEL_PAIRS = 409_600  # the paper's largest training set


# --- settings -----------------------------------------------------------------------------------

@dataclass
class Args:
    quick: bool
    wikipedia: str | None
    out: str | None
    keep: bool
    label_pairs: int
    label_repeats: int
    train_pairs: int
    epochs: int
    train_repeats: int
    threads: int
    ray_threads: int | None
    skip_two_workers: bool
    verbose: bool
    overrides: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~2-minute smoke run")
    parser.add_argument("--wikipedia", metavar="ROOT",
                        help="use English Wikipedia at ROOT with jobs/configs/wikipedia_en.yaml")
    parser.add_argument("--out", help="run folder (default: a temporary one, removed at the end)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary run folder")
    parser.add_argument("--label-pairs", type=int, default=LABEL_PAIRS)
    parser.add_argument("--label-repeats", type=int)
    parser.add_argument("--train-pairs", type=int, help="labelled pairs per training epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-repeats", type=int)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the plain loop and of in-process compute")
    parser.add_argument("--ray-threads", type=int,
                        help="torch.set_num_threads in the Ray Train worker (default: Ray's)")
    parser.add_argument("--skip-two-workers", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="show Ray's and the loop's logs")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override, e.g. model.embed_dim=512")
    ns = parser.parse_args(argv)
    if ns.label_repeats is None:
        ns.label_repeats = 1 if ns.quick else 3
    if ns.train_repeats is None:
        ns.train_repeats = 1 if ns.quick else 2
    if ns.train_pairs is None:  # Wikipedia's model is ~100x the demo's per pair
        ns.train_pairs = ((2_000 if ns.quick else 4_000) if ns.wikipedia
                          else (20_000 if ns.quick else 100_000))
    return Args(**vars(ns))


def load_bench_config(args: Args, n_pairs: int):
    from finelabel.config import load_config

    overrides = [f"pairs.n_pairs={n_pairs}", *args.overrides]
    if args.wikipedia:
        return load_config(REPO / "jobs/configs/wikipedia_en.yaml", overrides,
                           root=str(Path(args.wikipedia).resolve()))
    return load_config(REPO / "jobs/configs/demo.yaml", overrides)


# --- small helpers ------------------------------------------------------------------------------

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def timed_functions(module, names: list[str], times: dict[str, float]) -> Iterator[None]:
    """Wrap ``module.<name>`` (looked up at call time by the module itself) to add its seconds."""
    originals = {name: getattr(module, name) for name in names}

    def wrap(name: str, fn: Callable) -> Callable:
        def timed(*a, **kw):
            started = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - started
        return timed

    for name, fn in originals.items():
        setattr(module, name, wrap(name, fn))
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(module, name, fn)


def quiet_logs(verbose: bool) -> None:
    if verbose:
        return
    warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit.script, from PyG
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    for name in ("ray", "ray.data", "ray.train", "finelabel"):
        logging.getLogger(name).setLevel(logging.WARNING)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spin(seconds: float, queue) -> None:
    """Pure-Python work for ``seconds``: how much CPU this process got."""
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            count += 1
    queue.put(count)


def cpu_capacity(seconds: float = 1.5) -> float:
    """Work done by 2 concurrent processes / by 1 (alone): ~2 on an idle 2-core machine."""
    import multiprocessing

    context = multiprocessing.get_context("fork")  # pure Python in the children: fork is safe

    def run(n: int) -> int:
        queue = context.Queue()
        procs = [context.Process(target=_spin, args=(seconds, queue)) for _ in range(n)]
        for proc in procs:
            proc.start()
        total = sum(queue.get() for _ in procs)
        for proc in procs:
            proc.join()
        return total

    one = (run(1) + run(1)) / 2
    return run(2) / one


def say(text: str) -> None:
    print(text, flush=True)


# --- data ---------------------------------------------------------------------------------------

def prepare_run(args: Args, out: Path) -> dict[str, Any]:
    """Prepared items, word graph, ``pairs/train`` (409,600) and a random siamese checkpoint."""
    from finelabel.data.prepared import PreparedData
    from finelabel.run_folder import RunFolder
    from finelabel.stages.pairs import make_pairs
    from finelabel.stages.prepare import prepare
    from finelabel.train.checkpoint import save_checkpoint
    from finelabel.train.tasks import get_task

    config = load_bench_config(args, args.label_pairs)
    started = time.perf_counter()
    manifest = prepare(config, out)
    prepared_s = time.perf_counter() - started
    started = time.perf_counter()
    sizes = make_pairs(config, out)
    pairs_s = time.perf_counter() - started
    data = PreparedData.load(out)
    torch.manual_seed(0)
    model = get_task("siamese").build_model(config.model, data)
    checkpoint = save_checkpoint(RunFolder.at(out).model("siamese"), model, task="siamese",
                                 cfg=config.model, data=data)
    return {"config": config, "data": data, "checkpoint": checkpoint, "manifest": manifest,
            "prepare_s": prepared_s, "pairs_s": pairs_s, "sizes": sizes}


# --- 1. labelling -------------------------------------------------------------------------------

LABEL_PARTS = ["distinct_texts", "embed_texts", "score_pairs", "fit_hardness_bins",
               "write_pairs"]


def bench_label(args: Args, out: Path, prep: dict[str, Any]) -> dict[str, Any]:
    import finelabel.stages.label as label_stage
    from finelabel.run_folder import RunFolder

    config = prep["config"]
    runs = []
    for repeat in range(args.label_repeats):
        parts: dict[str, float] = {}
        with timed_functions(label_stage, LABEL_PARTS, parts):
            started = time.perf_counter()
            summary = label_stage.label_pairs(config, out)
            seconds = time.perf_counter() - started
        parts["other"] = seconds - sum(parts.values())  # to_pandas of the scores, summary
        runs.append({"seconds": seconds, "pairs": summary["pairs"], "parts": parts})
        say(f"  label run {repeat + 1}/{args.label_repeats}: {summary['pairs']:,} pairs in "
            f"{seconds:.2f} s = {summary['pairs'] / seconds:,.0f} pairs/s  ("
            + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + ")")
    best = min(runs, key=lambda r: r["seconds"])
    mid = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    return {"runs": runs, "median": mid, "best": best,
            "floor": label_compute_floor(args, out, prep), "import_s": actor_import_seconds(),
            "n_texts": int(len(label_stage.distinct_texts(
                RunFolder.at(out).pairs("train"))))}


def actor_import_seconds() -> float:
    """What every fresh actor process pays before its constructor: importing the actor classes."""
    import subprocess

    code = ("import time; t = time.perf_counter(); import finelabel.stages.label_actors; "
            "print(time.perf_counter() - t)")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True,
                          text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return float(done.stdout.strip().splitlines()[-1])


def label_compute_floor(args: Args, out: Path, prep: dict[str, Any]) -> dict[str, float]:
    """The actors' work without Ray: construct each class once, run every batch, one process."""
    import finelabel.stages.label as label_stage
    from finelabel.run_folder import RunFolder
    from finelabel.stages.label_actors import TextEmbedder, load_head
    from finelabel.train.hardness import SiameseSimilarity
    from finelabel.train.pair_scores import with_similarity

    config, checkpoint = prep["config"], prep["checkpoint"]
    source = RunFolder.at(out).pairs("train")
    ids = label_stage.distinct_texts(source)
    pairs = pq.read_table(source, columns=["text_idx", "image_idx", "positive"])
    batch = {name: pairs[name].to_numpy() for name in pairs.column_names}
    result: dict[str, float] = {}
    with torch_threads(args.threads):
        started = time.perf_counter()
        embedder = TextEmbedder([str(checkpoint)], str(out))
        result["embed_init"] = time.perf_counter() - started
        started = time.perf_counter()
        chunks = [embedder({"item_id": ids[i:i + 256]}) for i in range(0, len(ids), 256)]
        result["embed"] = time.perf_counter() - started
        n_items = int(sum(prep["manifest"]["counts"].values()))
        embeddings = np.zeros((n_items, chunks[0]["embedding"].shape[2]), dtype=np.float32)
        for chunk in chunks:
            embeddings[chunk["item_id"]] = chunk["embedding"][:, 0]
        started = time.perf_counter()
        similarity = SiameseSimilarity(torch.from_numpy(embeddings)[None], [load_head(checkpoint)],
                                       np.zeros(n_items, dtype=np.int64))
        scores = similarity.pair_scores()
        result["score_init"] = time.perf_counter() - started
        size = config.label.batch_size
        started = time.perf_counter()
        for i in range(0, len(batch["text_idx"]), size):
            with_similarity({k: v[i:i + size] for k, v in batch.items()}, scores=scores)
        result["score"] = time.perf_counter() - started
    return result


# --- 2/3. training ------------------------------------------------------------------------------

class EpochLog:
    """A Ray Train ``UserCallback`` (built lazily): every report's metrics, all ranks, timed."""

    @staticmethod
    def make(path: Path):
        from ray.train import UserCallback

        class _EpochLog(UserCallback):
            def __init__(self, path: str) -> None:
                self.path = path

            def after_report(self, run_context, metrics, checkpoint) -> None:
                with open(self.path, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"t": time.time(), "ranks": metrics}) + "\n")

        return _EpochLog(str(path))


class ThreadProbe:
    """Runs the library's per-worker function after noting (optionally setting) torch threads."""

    def __init__(self, path: Path, threads: int | None) -> None:
        self.path, self.threads = str(path), threads

    def __call__(self, loop_config: dict[str, Any]) -> None:
        import ray.train

        from finelabel.train.loop import train_loop_per_worker

        if self.threads:
            torch.set_num_threads(self.threads)
        rank = ray.train.get_context().get_world_rank()
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"rank": rank, "torch_threads": torch.get_num_threads(),
                                "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}) + "\n")
        train_loop_per_worker(loop_config)


def training_pairs(out: Path, n: int) -> Path:
    """The first ``n`` labelled pairs (they carry ``hardness``) as their own Parquet folder."""
    from finelabel.run_folder import RunFolder
    from finelabel.stages.pairs import write_pairs

    frame = pq.read_table(RunFolder.at(out).pairs("labelled")).slice(0, n).to_pandas()
    path = out / "pairs" / "bench_train"
    write_pairs(frame, path)
    return path


def train_config(args: Args, workers: int):
    config = load_bench_config(args, args.label_pairs)
    train = dataclasses.replace(config.train, num_workers=workers, epochs=args.epochs,
                                max_failures=0)
    return config, train


def bench_ray(args: Args, out: Path, pairs: Path, workers: int, tag: str) -> dict[str, Any]:
    from finelabel.train.job import TrainJob
    from finelabel.train.trainer import make_trainer

    config, train = train_config(args, workers)
    work = out / "bench" / tag
    work.mkdir(parents=True, exist_ok=True)
    log_path, probe_path = work / "epochs.jsonl", work / "threads.jsonl"
    job = TrainJob("dual", str(out), str(work / "model"), config.model, config.loss, train)
    started_at, started = time.time(), time.perf_counter()
    import ray.data

    dataset = ray.data.read_parquet(str(pairs)).materialize()
    trainer = make_trainer(job, dataset, storage_path=out / "ray_results", run_name=tag,
                           callbacks=(EpochLog.make(log_path),))
    trainer.train_loop_per_worker = ThreadProbe(probe_path, args.ray_threads)
    trainer.fit()
    wall = time.perf_counter() - started
    reports = [json.loads(line) for line in log_path.read_text().splitlines()]  # one per epoch
    epochs = []
    for report in reports:
        ranks = report["ranks"]
        seconds = max(m["train_pairs"] / m["pairs_per_s"] for m in ranks)
        epochs.append({"epoch": ranks[0]["epoch"], "train_s": seconds,
                       "pairs_per_s": sum(m["train_pairs"] for m in ranks) / seconds,
                       "t": report["t"]})
    threads = [json.loads(line) for line in probe_path.read_text().splitlines()]
    return {"wall": wall, "epochs": epochs, "first_report_s": epochs[0]["t"] - started_at,
            "threads": threads}


def bench_plain(args: Args, out: Path, pairs: Path, threads: int,
                ray_shard: bool = False, limit: int | None = None) -> dict[str, Any]:
    """The same epochs in this process, no Ray Train: same pieces, batch size and seed.

    Batches come from a seeded permutation of the pairs in memory, or (``ray_shard``) from the
    library's own ``finelabel.train.loop.batches`` over a Ray Data ``streaming_split(1)`` of the
    materialised pairs: the worker's data path without the worker.
    """
    from finelabel.data.prepared import PreparedData
    from finelabel.train.job import TrainJob
    from finelabel.train.loop import batches as shard_batches
    from finelabel.train.loop import shard_arrays
    from finelabel.train.steps import train_epoch
    from finelabel.train.tasks import get_task

    task = get_task("dual")

    config, train = train_config(args, 1)
    with torch_threads(threads):
        started = time.perf_counter()
        torch.manual_seed(train.seed)
        data = PreparedData.load(out)
        if ray_shard:
            import ray.data

            job = TrainJob("dual", str(out), str(out / "unused"), config.model, config.loss,
                           train)
            shard = ray.data.read_parquet(str(pairs)).materialize().streaming_split(1)[0]
        else:
            table = pq.read_table(pairs)
            table = table.slice(0, limit) if limit else table
            columns = {name: table[name].to_numpy() for name in table.column_names}
            n = table.num_rows
        model = task.build_model(config.model, data)
        optimizer = torch.optim.Adam(model.parameters(), lr=train.lr, fused=True)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=train.lr_decay)

        def in_memory(epoch: int):
            order = np.random.default_rng(train.seed + epoch).permutation(n)
            for i in range(0, n, train.batch_size):
                rows = order[i:i + train.batch_size]
                yield task.batch({k: v[rows] for k, v in columns.items()}, data)

        epochs = []
        for epoch in range(train.epochs):
            feed = (shard_batches(shard_arrays(shard), data, task, job, 1, epoch) if ray_shard
                    else in_memory(epoch))
            stats = train_epoch(model, feed, optimizer, config.loss, beta=config.loss.beta)
            scheduler.step()
            task.validate(model, data)
            epochs.append({"epoch": epoch + 1, "pairs_per_s": stats["pairs_per_s"],
                           "train_s": stats["train_pairs"] / stats["pairs_per_s"]})
        wall = time.perf_counter() - started
    return {"wall": wall, "epochs": epochs, "threads": threads}


def _ddp_worker(rank: int, world: int, init: str, args: Args, out: str, pairs: str,
                queue) -> None:
    """One process of the plain DDP baseline (gloo), as Ray Train would run it, without Ray."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from finelabel.data.prepared import PreparedData
    from finelabel.train.steps import train_epoch
    from finelabel.train.tasks import get_task

    task = get_task("dual")

    quiet_logs(args.verbose)
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    config, train = train_config(args, world)
    torch.manual_seed(train.seed)
    data = PreparedData.load(out)
    table = pq.read_table(pairs)
    columns = {name: table[name].to_numpy() for name in table.column_names}
    model = DistributedDataParallel(task.build_model(config.model, data))
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr, fused=True)
    per_worker = max(2, train.batch_size // world)

    def feed(epoch: int):
        order = np.random.default_rng(train.seed + epoch).permutation(table.num_rows)[rank::world]
        for i in range(0, len(order), per_worker):
            rows = order[i:i + per_worker]
            yield task.batch({k: v[rows] for k, v in columns.items()}, data)

    for epoch in range(train.epochs):
        stats = train_epoch(model, feed(epoch), optimizer, config.loss, beta=config.loss.beta)
        if rank == 0:
            task.validate(model.module, data)
        dist.barrier()
        queue.put((rank, epoch, stats["train_pairs"], stats["train_pairs"] / stats["pairs_per_s"]))
    flat = torch.zeros(sum(p.numel() for p in model.parameters()))
    for _ in range(20):
        dist.all_reduce(flat)
    dist.barrier()
    started = time.perf_counter()
    for _ in range(200):
        dist.all_reduce(flat)
    queue.put((rank, "allreduce_ms", flat.numel(), (time.perf_counter() - started) / 200 * 1e3))
    dist.destroy_process_group()


def bench_plain_ddp(args: Args, out: Path, pairs: Path, world: int = 2) -> dict[str, Any]:
    """``world`` plain processes with DDP over gloo (torch.multiprocessing, spawn), no Ray."""
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    queue = context.Queue()
    init = f"file://{out / 'bench' / f'ddp_init_{time.time_ns()}'}"
    (out / "bench").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    workers = [context.Process(target=_ddp_worker,
                               args=(rank, world, init, args, str(out), str(pairs), queue))
               for rank in range(world)]
    for worker in workers:
        worker.start()
    messages = [queue.get(timeout=600) for _ in range(world * (args.epochs + 1))]
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    if any(worker.exitcode for worker in workers):
        raise RuntimeError("a plain DDP worker failed")
    epochs = []
    for epoch in range(args.epochs):
        mine = [m for m in messages if m[1] == epoch]
        seconds = max(m[3] for m in mine)
        epochs.append({"epoch": epoch + 1, "train_s": seconds,
                       "pairs_per_s": sum(m[2] for m in mine) / seconds})
    allreduce = [m for m in messages if m[1] == "allreduce_ms"]
    return {"wall": wall, "epochs": epochs, "allreduce_ms": allreduce[0][3],
            "params": allreduce[0][2]}


def bench_shard_iteration(args: Args, pairs: Path) -> dict[str, dict[str, float]]:
    """Ray Data alone, in this process: the loop's ``iter_batches`` over a streaming split of one
    (what a Train worker's shard is) against the same materialised dataset unsplit, per epoch."""
    import ray.data

    batch = load_bench_config(args, args.label_pairs).train.batch_size
    dataset = ray.data.read_parquet(str(pairs)).materialize()
    shard = dataset.streaming_split(1, equal=True)[0]  # one iterator for every epoch, as in Train
    result = {}
    for name, source in (("split", shard), ("unsplit", dataset)):
        first, total = [], []
        for epoch in range(max(args.epochs, 2)):
            started, seen = time.perf_counter(), None
            for _ in source.iter_batches(batch_size=batch, batch_format="numpy",
                                         local_shuffle_buffer_size=batch * 64,
                                         local_shuffle_seed=epoch):
                if seen is None:
                    seen = time.perf_counter() - started
            first.append(seen or 0.0)
            total.append(time.perf_counter() - started)
        result[name] = {"first_batch_s": median(first[1:]), "epoch_s": median(total[1:])}
    return result


def outside(run: dict[str, Any]) -> float:
    """Wall seconds not spent inside ``train_epoch``: start-up, validation, checkpoints, exit."""
    return run["wall"] - sum(e["train_s"] for e in run["epochs"])


def steady(runs: list[dict[str, Any]]) -> float:
    """Median pairs/s over epochs 2.. of every run (epoch 1 alone if there is only one)."""
    values = [e["pairs_per_s"] for r in runs for e in r["epochs"][1:]]
    return median(values or [e["pairs_per_s"] for r in runs for e in r["epochs"]])


def bench_train(args: Args, out: Path) -> dict[str, Any]:
    pairs = training_pairs(out, args.train_pairs)
    variants: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("plain", lambda r: bench_plain(args, out, pairs, args.threads)),
        ("ray1", lambda r: bench_ray(args, out, pairs, 1, f"ray1_{r}")),
        ("plain_shard", lambda r: bench_plain(args, out, pairs, args.threads, ray_shard=True)),
    ]
    if not args.skip_two_workers:
        variants.append(("ray2", lambda r: bench_ray(args, out, pairs, 2, f"ray2_{r}")))
        variants.append(("ddp2", lambda r: bench_plain_ddp(args, out, pairs, 2)))
    if args.threads != 2:  # once, on a fifth of the pairs: on two shared cores two intra-op
        # threads swing the most with load (each parallel region waits for a preempted thread)
        variants.append(("plain2", lambda r: None if r else bench_plain(
            args, out, pairs, 2, limit=max(args.train_pairs // 5, 1000))))
    results: dict[str, Any] = {name: [] for name, _ in variants}
    results["iteration"] = bench_shard_iteration(args, pairs)
    it = results["iteration"]
    say("  Ray Data iteration alone (median epoch): streaming_split(1) shard first batch "
        f"{it['split']['first_batch_s']:.2f} s, whole epoch {it['split']['epoch_s']:.2f} s; "
        f"unsplit dataset {it['unsplit']['first_batch_s']:.3f} s, {it['unsplit']['epoch_s']:.2f} s")
    for repeat in range(args.train_repeats):  # interleaved, so drift hits every variant
        for name, run in variants:
            result = run(repeat)
            if result is None:
                continue
            results[name].append(result)
            rates = ", ".join(f"{e['pairs_per_s']:,.0f}" for e in result["epochs"])
            say(f"  train {name} run {repeat + 1}/{args.train_repeats}: wall "
                f"{result['wall']:.1f} s, pairs/s by epoch [{rates}]")
    return results


# --- report -------------------------------------------------------------------------------------

def print_report(args: Args, prep: dict[str, Any], label: dict[str, Any],
                 train: dict[str, Any], capacity: list[float]) -> None:
    config = prep["config"]
    manifest = prep["manifest"]
    say("\n== settings ==")
    say(f"dataset: {config.data.dataset} ({manifest['counts']}), vocabulary/graph nodes "
        f"{prep['data'].num_nodes}, image dim {prep['data'].image_dim}; "
        f"model embed_dim {config.model.embed_dim}, cheb_order {config.model.cheb_order}, "
        f"filters {config.model.filters}")
    say(f"machine: {os.cpu_count()} CPUs, capacity (2 processes' work / 1's) "
        f"{capacity[0]:.2f} at the start, {capacity[-1]:.2f} at the end (2.0 = two idle cores); "
        f"torch {torch.__version__}; ray {_ray_version()}")
    say(f"labelling: {args.label_pairs:,} pairs (random-weight siamese checkpoint), "
        f"{label['n_texts']} distinct texts, actors {config.label.min_actors}-"
        f"{config.label.max_actors} x {config.label.num_cpus_per_actor} CPU, scoring batch "
        f"{config.label.batch_size}, embedding batch 256; {args.label_repeats} run(s)")
    plain_threads = args.threads
    ray_threads = sorted({(t["torch_threads"], t["OMP_NUM_THREADS"])
                          for r in train.get("ray1", []) for t in r["threads"]})
    say(f"training: dual path, {args.train_pairs:,} labelled pairs x {args.epochs} epochs, global "
        f"batch {config.train.batch_size}, fused Adam lr {config.train.lr}; {args.train_repeats} "
        f"interleaved run(s) per variant; plain loop torch threads {plain_threads}; Ray worker "
        f"(torch threads, OMP_NUM_THREADS) {ray_threads}, 1 CPU per worker")

    floor = label["floor"]
    mid = label["median"]
    parts = mid["parts"]
    rows: list[tuple[str, str, str]] = []
    rate = mid["pairs"] / mid["seconds"]
    rows.append((f"label {mid['pairs']:,} pairs: end to end (median run)",
                 f"{mid['seconds']:.2f} s = {rate:,.0f} pairs/s", ">= 20,000 pairs/s"))
    rows.append(("  embed distinct texts (actor pool)", f"{parts['embed_texts']:.2f} s",
                 f"compute alone {floor['embed']:.2f} s + init {floor['embed_init']:.2f} s"))
    rows.append(("  score pairs (actor pool, materialised)", f"{parts['score_pairs']:.2f} s",
                 f"compute alone {floor['score']:.2f} s + init {floor['score_init']:.2f} s"))
    rows.append(("  (import of the actor module in a fresh process)", f"{label['import_s']:.2f} s",
                 "paid by every new actor, before its constructor"))
    rows.append(("  scores to pandas, summary", f"{parts['other']:.2f} s", ""))
    rows.append(("  fit bins", f"{parts['fit_hardness_bins']:.2f} s", ""))
    rows.append(("  hardness + write Parquet", f"{parts['write_pairs']:.2f} s", ""))
    rows.append(("  read distinct texts", f"{parts['distinct_texts']:.2f} s", ""))
    best = label["best"]
    rows.append(("label: best run", f"{best['seconds']:.2f} s = "
                 f"{best['pairs'] / best['seconds']:,.0f} pairs/s", ""))

    plain, ray1 = train["plain"], train["ray1"]
    s_plain, s_ray1 = steady(plain), steady(ray1)
    w_plain, w_ray1 = median([r["wall"] for r in plain]), median([r["wall"] for r in ray1])
    rows.append((f"train plain loop ({plain_threads} thread), steady pairs/s",
                 f"{s_plain:,.0f}", f"wall {w_plain:.1f} s"))
    rows.append(("train Ray 1 worker, steady pairs/s", f"{s_ray1:,.0f}", f"wall {w_ray1:.1f} s"))
    rows.append(("  Ray 1 worker / plain, steady throughput", f"{s_ray1 / s_plain:.2f}",
                 ">= 0.9"))
    rows.append(("  Ray 1 worker / plain, wall clock (plain s / Ray s)",
                 f"{w_plain / w_ray1:.2f}",
                 f"outside train_epoch: Ray {median([outside(r) for r in ray1]):.1f} s (first "
                 f"report after {median([r['first_report_s'] for r in ray1]):.1f} s), plain "
                 f"{median([outside(r) for r in plain]):.1f} s"))
    s_shard = steady(train["plain_shard"])
    rows.append(("  plain loop fed by the library's batches() over a Ray Data shard",
                 f"{s_shard:,.0f}", f"/ plain {s_shard / s_plain:.2f}; Ray 1 worker / this "
                 f"{s_ray1 / s_shard:.2f}"))
    extra = args.train_pairs / s_ray1 - args.train_pairs / s_plain
    it = train["iteration"]
    rows.append(("  Ray 1 worker extra seconds per epoch inside train_epoch", f"{extra:.2f} s",
                 f"Ray Data alone: split shard first batch {it['split']['first_batch_s']:.2f} s,"
                 f" epoch {it['split']['epoch_s']:.2f} s; unsplit {it['unsplit']['epoch_s']:.2f}"
                 f" s"))
    rows.append(("  Ray 1 worker epoch 1 pairs/s (iterator warm-up)",
                 f"{median([r['epochs'][0]['pairs_per_s'] for r in ray1]):,.0f}",
                 f"plain epoch 1: {median([r['epochs'][0]['pairs_per_s'] for r in plain]):,.0f}"))
    if "ray2" in train:
        ray2 = train["ray2"]
        s_ray2 = steady(ray2)
        batch = config.train.batch_size
        steps = -(-args.train_pairs // 2 // max(2, batch // 2))  # per worker and epoch
        rows.append(("train Ray 2 workers, steady global pairs/s", f"{s_ray2:,.0f}",
                     f"wall {median([r['wall'] for r in ray2]):.1f} s; "
                     f"{args.train_pairs / s_ray2 / steps * 1e3:.1f} ms per step of "
                     f"{batch // 2} pairs/worker (1 worker: {batch / s_ray1 * 1e3:.1f} ms per "
                     f"step of {batch}, plain {batch / s_plain * 1e3:.1f} ms)"))
        rows.append(("  2 workers / 1 worker, steady throughput", f"{s_ray2 / s_ray1:.2f}",
                     f"wall ratio {w_ray1 / median([r['wall'] for r in ray2]):.2f}"))
        ddp2 = train["ddp2"]
        s_ddp2 = steady(ddp2)
        rows.append(("plain DDP, 2 processes (gloo, no Ray), steady global pairs/s",
                     f"{s_ddp2:,.0f}", f"/ plain 1 process {s_ddp2 / s_plain:.2f}; Ray 2 workers "
                     f"/ this {s_ray2 / s_ddp2:.2f}; {ddp2[0]['params']:,} parameters, "
                     f"gloo all-reduce alone {median([r['allreduce_ms'] for r in ddp2]):.2f} ms"))
    if "plain2" in train:
        s_plain2 = steady(train["plain2"])
        rows.append(("train plain loop, 2 threads, steady pairs/s", f"{s_plain2:,.0f}",
                     f"2 threads / 1 thread {s_plain2 / s_plain:.2f} (one run, "
                     f"{max(args.train_pairs // 5, 1000):,} pairs)"))
        if "ray2" in train:
            rows.append(("  Ray 2 workers / plain 2 threads", f"{s_ray2 / s_plain2:.2f}", ""))

    say("\n== figures ==")
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    say(f"| {'figure'.ljust(width)} | {'value'.ljust(value_width)} | note |")
    say(f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|------|")
    for name, value, note in rows:
        say(f"| {name.ljust(width)} | {value.ljust(value_width)} | {note} |")


def _ray_version() -> str:
    import ray

    return ray.__version__


# --- main ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    quiet_logs(args.verbose)
    import ray
    import ray.data

    scratch = args.out is None
    out = Path(args.out or tempfile.mkdtemp(prefix="finelabel-bench-")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    say(f"run folder {out}")
    started = time.perf_counter()
    # The dashboard serves the state API that Ray Train V2's PlacementGroupCleaner polls to see
    # whether the controller lives. Without it (or with several Ray instances on the machine,
    # which its address auto-detection cannot tell apart) the cleaner can judge a live controller
    # dead and remove the placement group: "A worker health check failed" mid-run. So: a
    # dashboard on a free port, and its address in the environment every Ray process inherits.
    port = free_port()
    os.environ["RAY_API_SERVER_ADDRESS"] = f"http://127.0.0.1:{port}"
    ray.init(num_cpus=os.cpu_count(), include_dashboard=True, dashboard_host="127.0.0.1",
             dashboard_port=port, log_to_driver=args.verbose,
             logging_level=logging.INFO if args.verbose else logging.WARNING)
    try:
        if not args.verbose:
            ray.data.DataContext.get_current().enable_progress_bars = False
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        capacity = [cpu_capacity()]
        say(f"CPU capacity now (2 processes' work / 1 process's): {capacity[0]:.2f}")
        say("preparing data, pairs and a random siamese checkpoint ...")
        prep = prepare_run(args, out)
        say(f"  prepare {prep['prepare_s']:.1f} s, pairs {prep['pairs_s']:.1f} s: {prep['sizes']}")
        say("1. labelling ...")
        label = bench_label(args, out, prep)
        say("2./3. training ...")
        train = bench_train(args, out)
        capacity.append(cpu_capacity())
        print_report(args, prep, label, train, capacity)
    finally:
        ray.shutdown()
        if scratch and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    say(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
