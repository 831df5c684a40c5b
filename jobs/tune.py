"""A Ray Tune search of the loss margins on a pipeline's run folder (one MLflow run per trial).

    ray job submit --working-dir . -- python jobs/tune.py --config C --out DIR \
        --space tune_spaces/margins.yaml [--name N] [--set k=v]
"""

from _entry import run

if __name__ == "__main__":
    run("tune")
