"""Wall time of `finelabel prepare` on English Wikipedia (target: under 60 s on 2 cores).

Runs the real command in a fresh process (starting Ray included), prints the wall time and the
stage's own time from the manifest. Usage:
    python benchmarks/bench_prepare.py [--root ../shared/datasets/wikipedia_en] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = REPO.parent / "shared" / "datasets" / "wikipedia_en"


def run_once(root: Path, out: Path) -> tuple[float, dict]:
    command = [sys.executable, "-m", "finelabel.cli", "prepare", "--config",
               str(REPO / "jobs/configs/wikipedia_en.yaml"), "--root", str(root), "--out", str(out)]
    env = {**os.environ, "RAY_DATA_DISABLE_PROGRESS_BARS": "1"}
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return wall, json.loads((out / "manifest.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not (args.root / "wikipedia_dataset").is_dir():
        sys.exit(f"English Wikipedia not found at {args.root}; pass --root")
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            wall, manifest = run_once(args.root, Path(tmp))
        counts = manifest["counts"]
        print(f"run {repeat + 1}: {wall:.1f} s wall (stage {manifest['seconds']} s); "
              f"{sum(counts.values())} pairs, vocabulary {manifest['vocab_size']}, "
              f"graph min degree {manifest['graph']['min_degree']}")


if __name__ == "__main__":
    main()
