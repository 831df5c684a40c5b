"""Every speed and scale figure side by side: benchmark.json, a table, the growth plot.

    ray job submit --working-dir . -- python jobs/benchmark.py --out DIR [--quick] [--root R]
"""

from _entry import run

if __name__ == "__main__":
    run("benchmark")
