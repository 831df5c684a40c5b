"""What each recipe option does to test MAP: variants of the recipe, several seeds each.

Trains the dual-path model in this process with the library's own pieces (the task's batches,
``train_epoch``, validation MAP each epoch, the best epoch by validation, test MAP of that
epoch), so a sweep needs no Ray and each run takes a minute or two on English Wikipedia.
Labels are left out (beta = 0): whether they help is ``finelabel reproduce``'s question.

    finelabel prepare --config jobs/configs/wikipedia_en.yaml --out runs/wiki
    python benchmarks/recipe_sweep.py --prepared runs/wiki --seeds 3 --out sweep.jsonl

Prints one line per (variant, seed) as it goes, then the table: mean +- std per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finelabel.config import load_config  # noqa: E402
from finelabel.data.prepared import PreparedData  # noqa: E402
from finelabel.evaluation import evaluate_model, split_map  # noqa: E402
from finelabel.evaluation.comparison import summary  # noqa: E402
from finelabel.train.job import TrainJob  # noqa: E402
from finelabel.train.loop import batches  # noqa: E402
from finelabel.train.steps import train_epoch  # noqa: E402

#: name -> --set overrides on the default (finelabel) recipe, beta 0.
VARIANTS: dict[str, list[str]] = {
    "finelabel (default)": [],
    "paper score head": ["model.score=head", "loss.label_weight=0"],
    "head + label term": ["model.score=head"],
    "cosine score": ["model.score=cosine"],
    "sampled pairs": ["train.pairing=sampled"],
    "log1p signal": ["model.text_signal=log1p"],
    "tfidf signal": ["model.text_signal=tfidf"],
    "no label term": ["loss.label_weight=0"],
    "label term 0.3": ["loss.label_weight=0.3"],
    "no image dropout": ["model.image_dropout=0"],
    "weight decay 1e-4": ["train.weight_decay=0.0001"],
    "d 512": ["model.embed_dim=512"],
    "lr 3e-4": ["train.lr=0.0003"],
}


def run(prepared: str, overrides: list[str], seed: int) -> dict:
    """One training; returns the best epoch by validation MAP and its test MAP."""
    config = load_config(None, ["loss.beta=0", f"train.seed={seed}", f"pairs.seed={seed}",
                                *overrides])
    job = TrainJob("dual", prepared, "", config.model, config.loss, config.train)
    task = job.training_task()
    data = PreparedData.load(prepared)
    torch.manual_seed(seed)
    model = task.build_model(config.model, data, config.loss.label_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr,
                                 weight_decay=config.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, config.train.lr_decay)
    if config.train.pairing == "in_batch":
        shard = {"item_id": data.indices("train")}
    else:
        from finelabel.stages.pairs import sampled_pairs

        frame = sampled_pairs(data, config.pairs.n_pairs, seed=seed + 1, task="dual")
        shard = {name: frame[name].to_numpy() for name in frame.columns}
    best, best_epoch, test, started = -1.0, 0, None, time.perf_counter()
    for epoch in range(config.train.epochs):
        torch.manual_seed(seed * 1000 + epoch)
        train_epoch(model, batches(shard, data, task, job, 1, epoch), optimizer, config.loss,
                    beta=0.0)
        scheduler.step()
        val = split_map(model, data, "val")["avg"]
        if val > best:
            best, best_epoch = val, epoch + 1
            test = evaluate_model(model.eval(), data, top_k=config.eval.top_k)["test"]["all"]
        if config.train.patience and epoch + 1 - best_epoch >= config.train.patience:
            break
    return {"best_val": best, "best_epoch": best_epoch, "test": test,
            "seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", required=True, help="a prepared run folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS),
                        help="names of VARIANTS to run (default: all)")
    parser.add_argument("--out", default="recipe_sweep.jsonl",
                        help="results, one JSON line per run (kept: a rerun skips them)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    seen = {(r["variant"], r["seed"]) for r in done}
    for name in args.variants:
        for seed in range(args.seeds):
            if (name, seed) in seen:
                continue
            result = {"variant": name, "seed": seed, **run(args.prepared, VARIANTS[name], seed)}
            print(json.dumps(result), flush=True)
            with out.open("a") as handle:
                handle.write(json.dumps(result) + "\n")
            done.append(result)
    print("\n| variant | seeds | test avg MAP (mean +- std) | best epoch |\n|---|---|---|---|")
    for name in args.variants:
        rows = [r for r in done if r["variant"] == name]
        if rows:
            stats = summary([r["test"]["avg"] for r in rows])
            epochs = np.mean([r["best_epoch"] for r in rows])
            print(f"| {name} | {len(rows)} | {stats['mean']:.4f} +- {stats['std']:.4f} | "
                  f"{epochs:.1f} |")


if __name__ == "__main__":
    main()
