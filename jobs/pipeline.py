"""Every stage as one pipeline (one parent MLflow run).

    ray job submit --working-dir . -- python jobs/pipeline.py --config C --out DIR [--set k=v]
"""

from _entry import run

if __name__ == "__main__":
    run("pipeline")
