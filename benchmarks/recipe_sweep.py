"""What each recipe option does to test MAP: variants of the recipe, several seeds each.

Trains in this process with the library's own pieces (the task's batches, ``train_epoch``,
validation MAP each epoch, the best epoch by validation, test MAP of that epoch), so a sweep
needs no Ray and each run takes a minute or two on English Wikipedia. A variant with
``loss.beta > 0`` trains on fine-grained labels: the sweep trains the seed's siamese net(s)
(one, or one per fold with ``label.folds``) the same way, once per seed and setting, and builds
the label model the label stage would (embeddings of every training text, bins fitted on the
sampled training pairs' r).

    finelabel prepare --config jobs/configs/wikipedia_en.yaml --out runs/wiki
    python benchmarks/recipe_sweep.py --prepared runs/wiki --seeds 3 --out sweep.jsonl
    python benchmarks/recipe_sweep.py --prepared runs/wiki --seeds 3 --out labels.jsonl \\
        --variants "beta 0" "beta 0.3" "beta 0.3 shuffled" "beta 0.3 out-of-fold 5"

Prints one line per (variant, seed) as it goes, then the table: mean +- std per variant, and
for label variants the paired difference to ``beta 0`` when both ran.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finelabel.config import Config, load_config  # noqa: E402
from finelabel.data.prepared import PreparedData  # noqa: E402
from finelabel.evaluation import evaluate_model, siamese_map, split_map  # noqa: E402
from finelabel.evaluation.comparison import paired_difference, summary  # noqa: E402
from finelabel.labels import fit_hardness_bins  # noqa: E402
from finelabel.train.hardness import (  # noqa: E402
    InBatchHardness,
    SiameseSimilarity,
    save_label_model,
)
from finelabel.train.job import TrainJob  # noqa: E402
from finelabel.train.loop import batches  # noqa: E402
from finelabel.train.steps import train_epoch  # noqa: E402

#: name -> --set overrides on the default (finelabel) recipe. Beta 0 unless a variant sets it.
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
    # fine-grained labels on the default recipe
    "beta 0": [],
    "beta 0.3": ["loss.beta=0.3"],
    "beta 0.3 shuffled": ["loss.beta=0.3", "loss.shuffle_labels=true"],
    "beta 0.3 centred": ["loss.beta=0.3", "loss.centre_labels=true"],
    "beta 0.3 out-of-fold 5": ["loss.beta=0.3", "label.folds=5"],
    "beta 0.3 out-of-fold 5 shuffled": ["loss.beta=0.3", "label.folds=5",
                                        "loss.shuffle_labels=true"],
    "beta 0.3 out-of-fold 5 centred": ["loss.beta=0.3", "label.folds=5",
                                       "loss.centre_labels=true"],
    "beta 1.0": ["loss.beta=1.0"],
    "beta 1.0 out-of-fold 5": ["loss.beta=1.0", "label.folds=5"],
    "beta 0.1 out-of-fold 5": ["loss.beta=0.1", "label.folds=5"],
    "beta 0.5 out-of-fold 5": ["loss.beta=0.5", "label.folds=5"],
    "beta 0.3 out-of-fold 5 bins 3": ["loss.beta=0.3", "label.folds=5", "loss.bins=3"],
}


def variant_config(overrides: list[str], seed: int) -> Config:
    return load_config(None, ["loss.beta=0", f"train.seed={seed}", f"siamese.seed={seed}",
                              f"pairs.seed={seed}", *overrides])


def fit(data: PreparedData, config: Config, task: str, *, kept: np.ndarray | None = None,
        hardness: InBatchHardness | None = None, with_test: bool = True):
    """One training; the best epoch by validation, its weights and (dual) its test MAP."""
    train = config.siamese if task == "siamese" else config.train
    job = TrainJob(task, str(data.root), "", config.model, config.loss, train)
    kind = job.training_task()
    loss = kind.loss_config(config.loss)
    torch.manual_seed(train.seed)
    model = kind.build_model(config.model, data, loss.label_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr,
                                 weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, train.lr_decay)
    ids = data.indices("train")
    if kept is not None:
        ids = ids[kept[ids]]
    if train.pairing == "in_batch":
        shard = {"item_id": ids}
    else:
        from finelabel.stages.pairs import sampled_pairs

        frame = sampled_pairs(data, config.pairs.n_pairs, seed=config.pairs.seed + 1, task=task)
        shard = {name: frame[name].to_numpy() for name in frame.columns}
    best = {"val": -1.0, "epoch": 0, "test": None, "state": None}
    for epoch in range(train.epochs):
        torch.manual_seed(train.seed * 1000 + epoch)
        train_epoch(model, batches(shard, data, kind, job, 1, epoch, hardness), optimizer, loss,
                    beta=kind.beta(loss))
        scheduler.step()
        val = (siamese_map(model, data)["t2t"] if task == "siamese"
               else split_map(model, data, "val")["avg"])
        if val > best["val"]:
            best.update(val=val, epoch=epoch + 1, state=copy.deepcopy(model.state_dict()))
            if task == "dual" and with_test:
                best["test"] = evaluate_model(model.eval(), data,
                                              top_k=config.eval.top_k)["test"]["all"]
        if train.patience and epoch + 1 - best["epoch"] >= train.patience:
            break
    model.load_state_dict(best["state"])
    return model.eval(), best


def label_model(data: PreparedData, config: Config, cache: Path) -> Path:
    """The seed's label model (as the label stage builds it), trained once and cached."""
    folds = config.label.folds
    path = cache / f"seed{config.siamese.seed}-folds{folds}"
    if (path / "bins.json").is_file():
        return path
    assignment = (data.folds(folds, config.siamese.seed) if folds > 1
                  else np.zeros(len(data.labels), dtype=np.int64))
    train = data.indices("train")
    embeddings, heads = [], []
    for fold in range(folds):
        kept = assignment != fold if folds > 1 else None
        model, best = fit(data, config, "siamese", kept=kept)
        print(f"  siamese seed {config.siamese.seed} fold {fold}/{folds}: val t2t "
              f"{best['val']:.4f} at epoch {best['epoch']}", flush=True)
        with torch.no_grad():
            matrix = np.zeros((len(data.labels), config.model.embed_dim), dtype=np.float32)
            matrix[train] = model.embed(data.texts(train)).numpy()
        embeddings.append(matrix)
        heads.append(model.head.eval())
    similarity = SiameseSimilarity(torch.from_numpy(np.stack(embeddings)), heads, assignment)
    from finelabel.stages.pairs import sampled_pairs

    pairs = sampled_pairs(data, config.pairs.n_pairs, seed=config.pairs.seed + 1, task="dual")
    r = similarity.pairs(pairs["text_idx"].to_numpy(), pairs["image_idx"].to_numpy())
    bins = fit_hardness_bins(r, pairs["positive"].to_numpy(), config.loss.bins)
    return save_label_model(path, np.stack(embeddings), heads, assignment, bins)


def run(data: PreparedData, overrides: list[str], seed: int, cache: Path) -> dict:
    config = variant_config(overrides, seed)
    hardness = None
    if config.loss.beta > 0:
        shuffle = config.train.seed if config.loss.shuffle_labels else None
        hardness = InBatchHardness.load(label_model(data, config, cache), shuffle_seed=shuffle)
    started = time.perf_counter()
    _, best = fit(data, config, "dual", hardness=hardness)
    return {"best_val": best["val"], "best_epoch": best["epoch"], "test": best["test"],
            "seconds": round(time.perf_counter() - started, 1)}


def print_table(done: list[dict], names: list[str]) -> None:
    print("\n| variant | seeds | test avg MAP (mean +- std) | best epoch | vs beta 0 "
          "(paired, mean +- se) |\n|---|---|---|---|---|")
    base = {r["seed"]: r["test"]["avg"] for r in done if r["variant"] == "beta 0"}
    for name in names:
        rows = sorted((r for r in done if r["variant"] == name), key=lambda r: r["seed"])
        if not rows:
            continue
        stats = summary([r["test"]["avg"] for r in rows])
        epochs = np.mean([r["best_epoch"] for r in rows])
        paired = [r for r in rows if r["seed"] in base]
        diff = ""
        if name != "beta 0" and len(paired) >= 2:
            d = paired_difference([r["test"]["avg"] for r in paired],
                                  [base[r["seed"]] for r in paired])
            diff = f"{d['mean']:+.4f} +- {d['se']:.4f}"
        print(f"| {name} | {len(rows)} | {stats['mean']:.4f} +- {stats['std']:.4f} | "
              f"{epochs:.1f} | {diff} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", required=True, help="a prepared run folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS),
                        help="names of VARIANTS to run (default: all)")
    parser.add_argument("--out", default="recipe_sweep.jsonl",
                        help="results, one JSON line per run (kept: a rerun skips them)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only-seed", type=int,
                        help="run this seed alone (two processes can share the sweep)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    cache = out.with_suffix(".labels")
    done = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
    seen = {(r["variant"], r["seed"]) for r in done}
    data = PreparedData.load(args.prepared)
    seeds = [args.only_seed] if args.only_seed is not None else range(args.seeds)
    for seed in seeds:
        for name in args.variants:
            if (name, seed) in seen:
                continue
            result = {"variant": name, "seed": seed, **run(data, VARIANTS[name], seed, cache)}
            print(json.dumps(result), flush=True)
            with out.open("a") as handle:  # one short line: appends of two processes stay whole
                handle.write(json.dumps(result) + "\n")
            done.append(result)
    print_table(done, args.variants)


if __name__ == "__main__":
    main()
