"""The two kernels that score pairs from siamese embeddings, side by side: numpy blocks (Ray
Data tasks) and one sampled matrix product (the label stage in the driver).

409,600 pairs (the paper's largest setting) of 20,480 items with 1024-d embeddings, the pairs'
first items in runs of 20 as the pair sampler writes them; interleaved runs, medians, a ratio.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_pair_scores.py [--pairs N] [--items N] [--repeats K]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from finelabel.train.pair_scores import PairScores
from finelabel.train.sampled_scores import sampled_pair_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=409_600)
    parser.add_argument("--items", type=int, default=20_480)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scores = PairScores(rng.standard_normal((1, args.items, args.dim), dtype=np.float32),
                        rng.standard_normal((1, args.dim), dtype=np.float32),
                        np.zeros(1), np.zeros(args.items, dtype=np.int64))
    left = np.repeat(rng.permutation(args.items), -(-args.pairs // args.items))[:args.pairs]
    right = rng.integers(0, args.items, args.pairs)
    kernels = {"numpy blocks": lambda: scores(left, right),
               "sampled product": lambda: sampled_pair_scores(scores, left, right)}
    seconds: dict[str, list[float]] = {name: [] for name in kernels}
    results = {}
    for _ in range(args.repeats):
        for name, kernel in kernels.items():
            started = time.perf_counter()
            results[name] = kernel()
            seconds[name].append(time.perf_counter() - started)
    gap = float(np.abs(results["numpy blocks"] - results["sampled product"]).max())
    print(f"{args.pairs:,} pairs of {args.items:,} items, d={args.dim}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}:")
    for name, values in seconds.items():
        mid = statistics.median(values)
        print(f"  {name:16s} {mid:6.3f} s = {args.pairs / mid:12,.0f} pairs/s")
    ratio = statistics.median(seconds["numpy blocks"]) / statistics.median(
        seconds["sampled product"])
    print(f"  sampled product is {ratio:.1f}x as fast; largest difference {gap:.2e}")


if __name__ == "__main__":
    main()
