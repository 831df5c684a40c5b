"""Speed of the label stage alone: 409,600 pairs (the paper's largest setting), texts embedded
in-process vs on an actor pool; the pairs are scored in this process (``label.in_process_pairs``).

Prints figures, asserts nothing. Uses the pipeline benchmark's data (prepared synthetic items,
sampled pairs, a random-weight siamese checkpoint: the weights do not change the cost) and its
timed breakdown of the stage's own functions; runs the two embedding paths interleaved.

    .venv/bin/python benchmarks/bench_label.py [--label-pairs N] [--label-repeats K]
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pipeline as bench  # noqa: E402


def main() -> None:
    import ray

    args = bench.parse_args(sys.argv[1:])
    out = Path(tempfile.mkdtemp(prefix="bench_label_"))
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        prep = bench.prepare_run(args, out)
        paths = {"in-process embedding": "label.in_process_texts=1000000",
                 "actor-pool embedding": "label.in_process_texts=0"}
        seconds: dict[str, list[float]] = {name: [] for name in paths}
        for repeat in range(args.label_repeats):
            for name, override in paths.items():
                config = bench.load_bench_config(
                    dataclasses.replace(args, overrides=[*args.overrides, override]),
                    args.label_pairs)
                one = bench.bench_label(dataclasses.replace(args, label_repeats=1), out,
                                        {**prep, "config": config})
                seconds[name].append(one["median"]["seconds"])
                bench.say(f"  {name}, run {repeat + 1}: {one['median']['seconds']:.2f} s")
        bench.say(f"\nlabel {args.label_pairs:,} pairs ({bench.LABEL_PAIRS:,} is the paper's "
                  f"largest), {prep['data'].num_nodes} graph nodes, median of "
                  f"{args.label_repeats}:")
        for name, values in seconds.items():
            mid = statistics.median(values)
            bench.say(f"  {name}: {mid:.2f} s = {args.label_pairs / mid:,.0f} pairs/s")
    finally:
        ray.shutdown()
        shutil.rmtree(out, ignore_errors=True)
    bench.say(f"total {time.perf_counter() - START:.0f} s")


START = time.perf_counter()

if __name__ == "__main__":
    main()
