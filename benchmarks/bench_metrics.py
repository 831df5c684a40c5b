"""Time and peak memory of streaming MAP at evaluation scale (default 10^4 x 10^5, 10 classes).

Scores are random, made chunk by chunk as a model would score them, so the full matrix never
exists. Prints one line per k: seconds (and the share spent making scores) and the process's
peak resident memory (plus peak CUDA memory on a GPU).

    python benchmarks/bench_metrics.py [--queries 10000] [--database 100000] [--chunk-size 256]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from finelabel.metrics import mean_average_precision_chunked


def random_score_rows(n_db: int, device: torch.device, seed: int):
    """A ScoreRows callable: uniform scores, seeded per chunk so reruns see the same matrix."""
    def score_rows(rows: slice) -> torch.Tensor:
        generator = torch.Generator(device=device).manual_seed(seed + rows.start)
        return torch.rand(rows.stop - rows.start, n_db, generator=generator, device=device)
    return score_rows


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def run(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    query_labels = rng.integers(0, args.classes, args.queries)
    db_labels = rng.integers(0, args.classes, args.database)
    score_rows = random_score_rows(args.database, device, seed=1)
    start = time.perf_counter()
    for rows in range(0, args.queries, args.chunk_size):
        score_rows(slice(rows, min(rows + args.chunk_size, args.queries)))
    if device.type == "cuda":
        torch.cuda.synchronize()
    making = time.perf_counter() - start
    print(f"{args.queries} x {args.database}, {args.classes} classes, chunk {args.chunk_size}, "
          f"{device}, {torch.get_num_threads()} threads; making scores alone: {making:.1f} s")
    for k in (100, None):
        start = time.perf_counter()
        value = mean_average_precision_chunked(score_rows, args.queries, query_labels, db_labels,
                                               k, chunk_size=args.chunk_size)
        seconds = time.perf_counter() - start
        gpu = (f", peak CUDA {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
               if device.type == "cuda" else "")
        print(f"k={k}: MAP {value:.4f} (prior {1 / args.classes:.2f}) in {seconds:.1f} s, "
              f"peak RSS {peak_rss_gib():.2f} GiB{gpu}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--database", type=int, default=100_000)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
