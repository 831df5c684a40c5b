"""The prepare stage.

    ray job submit --working-dir . -- python jobs/prepare.py --config C --out DIR [--set k=v]
"""

from _entry import run

if __name__ == "__main__":
    run("prepare")
