"""The train step with and without reused_memory, each in fresh processes taken in turns.

    .venv/bin/python benchmarks/bench_reused_memory.py [rounds]

Prints per variant the median step, its fraction of the FC bound and the page faults per step,
then the ratio of the step times. Run it on a quiet machine: the figure is a ratio of one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys
from finelabel.benchmark.train_step import step_fraction_of_bound
r = step_fraction_of_bound(repeats=7, reuse_memory=sys.argv[1] == "1")
print(json.dumps({"step_ms": r["ms"]["step"], "bound_ms": r["ms"]["bound"],
                  "fraction": r["fraction"], "faults": r["page_faults_per_step"]}))
"""


def main(rounds: int) -> None:
    runs: dict[str, list[dict]] = {"reused": [], "default": []}
    for _ in range(rounds):
        for name, flag in (("default", "0"), ("reused", "1")):
            out = subprocess.run([sys.executable, "-c", CHILD, flag], check=True,
                                 capture_output=True, text=True).stdout
            runs[name].append(json.loads(out.splitlines()[-1]))
    print("| memory | step ms | bound ms | fraction of bound | page faults / step |")
    print("|---|---|---|---|---|")
    medians = {}
    for name, results in runs.items():
        medians[name] = {key: statistics.median(r[key] for r in results) for key in results[0]}
        m = medians[name]
        print(f"| {name} | {m['step_ms']:.1f} | {m['bound_ms']:.1f} | {m['fraction']:.2f} | "
              f"{m['faults']:,.0f} |")
    print(f"\nstep time, reused / default: "
          f"{medians['reused']['step_ms'] / medians['default']['step_ms']:.2f} "
          f"(median of {rounds} rounds)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=3,
                        help="pairs of fresh processes, one per variant (default 3)")
    main(parser.parse_args().rounds)
