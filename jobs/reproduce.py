"""The method against its ablation, a shuffled control and classical baselines, over seeds.

    ray job submit --working-dir . -- python jobs/reproduce.py --config C --seeds 3 --out DIR
"""

from _entry import run

if __name__ == "__main__":
    run("reproduce")
