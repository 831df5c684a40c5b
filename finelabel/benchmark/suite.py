"""Every figure of the benchmark in one run: ``benchmark.json``, a table, the growth plot.

``quick`` measures the same things at small sizes (a smoke run for CI, minutes); the full run
uses the issue's sizes: 2,048, 20,480 and 204,800 synthetic items (40,960 to 4,096,000 pairs),
training epochs up to 20,480 items. The caller holds a Ray session.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finelabel.benchmark.ddp_step import ddp_step_ratios
from finelabel.benchmark.growth import (
    as_records,
    growth_config,
    growth_exponents,
    measure_growth,
)
from finelabel.benchmark.machine import describe_machine
from finelabel.benchmark.train_step import StepShape, step_fraction_of_bound
from finelabel.benchmark.training import training_ratios
from finelabel.run_folder import write_json

BENCHMARK_FILE = "benchmark.json"
GROWTH_PLOT = "growth.png"
LABEL_PAIRS = 409_600  # the paper's largest setting
LARGE_ITEMS = 204_800  # 4,096,000 pairs

#: (key, bar as text, test on the value or None) for the table; a missing value is "not
#: measured".
BARS: list[tuple[str, str, Callable[[float], bool] | None]] = [
    ("label_pairs_per_s", ">= 200,000", lambda v: v >= 200_000),
    ("label_4m_pairs_s", "< 30 s", lambda v: v < 30),
    ("train_step_fraction_of_bound", ">= 0.8", lambda v: v >= 0.8),
    # no bar: the fraction a step doing only its unavoidable work (FC and sparse products,
    # Adam) would reach; above 0.8 only where those two cost less than a quarter of the FC's
    ("train_step_ceiling", "-", None),
    ("ddp_2w_vs_1w", ">= 0.9", lambda v: v >= 0.9),
    ("ray_train_1w_vs_plain", ">= 0.95", lambda v: v >= 0.95),
    # for comparison, no bar: DDP's own all-reduce; Ray Train's workers on a small model
    ("ddp_2w_vs_1w_plain_allreduce", "-", None),
    ("ray_train_2w_vs_1w_synthetic", "-", None),
    ("wikipedia_pipeline_s", "< 900 s", lambda v: v < 900),
    ("prepare_200k_s", "< 300 s", lambda v: v < 300),
    ("prepare_200k_driver_rss_mb", "< 4,096 MB", lambda v: v < 4096),
    ("max_growth_exponent", "<= 1.1", lambda v: v <= 1.1),
]



@dataclass(frozen=True)
class Plan:
    """What one benchmark run measures."""

    sizes: tuple[int, ...]
    train_max_items: int
    step: StepShape
    step_repeats: int
    #: Epochs of each training-throughput run (on the largest size trained on).
    throughput_epochs: int
    #: Rounds of the three throughput runs, taken in turns.
    throughput_rounds: int = 1
    #: Growth measurements of every size but the largest, of which each stage keeps the median.
    growth_repeats: int = 1

    @classmethod
    def full(cls) -> Plan:
        return cls((2_048, 20_480, LARGE_ITEMS), 20_480, StepShape(), 7, 4, 2, 3)

    @classmethod
    def quick(cls) -> Plan:
        return cls((400, 1_600), 1_600, StepShape(batch=64, nodes=2_000, embed_dim=256,
                                                  image_dim=512), 3, 2, growth_repeats=2)


def _at(records: list[dict], stage: str, items: int, key: str) -> float | None:
    for record in records:
        if record["stage"] == stage and record["items"] == items:
            return record[key]
    return None


def _label_figures(records: list[dict]) -> dict[str, Any]:
    """Pairs/s of the label stage at the size nearest 409,600 pairs; seconds at 4M pairs."""
    labels = [r for r in records if r["stage"] == "label"]
    if not labels:
        return {"label_pairs": None, "label_pairs_per_s": None, "label_4m_pairs_s": None}
    nearest = min(labels, key=lambda r: abs(r["pairs"] - LABEL_PAIRS))
    return {"label_pairs": nearest["pairs"],
            "label_pairs_per_s": nearest["pairs"] / nearest["seconds"],
            "label_4m_pairs_s": _at(records, "label", LARGE_ITEMS, "seconds")}


def run_benchmark(out: str | Path, *, quick: bool = False,
                  wikipedia: Callable[[Path], float] | None = None,
                  overrides: Sequence[str] = (),
                  progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure, write ``benchmark.json`` and the growth plot under ``out``, return the figures.

    ``wikipedia(scratch)`` runs the English Wikipedia pipeline and returns its seconds (the
    caller knows where the dataset and its config are).
    """
    from finelabel.report.plots import plot_growth

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan = Plan.quick() if quick else Plan.full()
    started = time.perf_counter()
    progress(f"benchmark ({'quick' if quick else 'full'}) -> {out}")
    machine = describe_machine()
    progress("train step against its matmul bound")
    step = step_fraction_of_bound(plan.step, repeats=plan.step_repeats)
    progress("2 DDP workers against 1 at the same global batch (plain and with factors)")
    ddp = ddp_step_ratios(plan.step, steps=plan.step_repeats, rounds=1 if quick else 3)
    costs = measure_growth(plan.sizes, out / "scratch", train_max_items=plan.train_max_items,
                           overrides=overrides, repeats=plan.growth_repeats, progress=progress)
    records = as_records(costs)
    exponents = growth_exponents(costs)
    trained = max(n for n in plan.sizes if n <= plan.train_max_items)
    progress(f"training throughput at {trained:,} items: in-process, 1 and 2 Ray Train workers")
    scratch = out / "scratch"
    ratios = training_ratios(growth_config(trained, scratch / f"data-{trained}",
                                           scratch / f"run-{trained}", overrides),
                             scratch / f"run-{trained}", epochs=plan.throughput_epochs,
                             rounds=plan.throughput_rounds)
    figures: dict[str, Any] = {
        **_label_figures(records),
        "train_step_fraction_of_bound": step["fraction"],
        "train_step_ceiling": step["ceiling"],
        "ddp_2w_vs_1w": ddp["factors"],
        "ddp_2w_vs_1w_plain_allreduce": ddp["plain"],
        "ray_train_2w_vs_1w_synthetic": ratios["ddp_2w_vs_1w"],
        "ray_train_1w_vs_plain": ratios["ray_train_1w_vs_plain"],
        "prepare_200k_s": _at(records, "prepare", LARGE_ITEMS, "seconds"),
        "prepare_200k_driver_rss_mb": _at(records, "prepare", LARGE_ITEMS, "driver_mb"),
        "growth_exponent": exponents,
        "max_growth_exponent": max(exponents.values()) if exponents else None,
        "wikipedia_pipeline_s": None,
    }
    if wikipedia is not None:
        progress("English Wikipedia pipeline, default recipe")
        figures["wikipedia_pipeline_s"] = wikipedia(out / "scratch" / "wikipedia")
    result = {"quick": quick, "machine": machine, "figures": figures, "train_step": step,
              "ddp_step": ddp,
              "training": ratios["runs"], "growth": records, "sizes": list(plan.sizes),
              "seconds": time.perf_counter() - started}
    write_json(out / BENCHMARK_FILE, result)
    plot_growth(records, out / GROWTH_PLOT)
    return result


def format_table(result: dict[str, Any]) -> str:
    """The figures against their bars, then the growth per stage, as Markdown."""
    figures, machine = result["figures"], result["machine"]
    lines = [f"machine: {machine['cores']} cores ({machine['usable_cores']} usable), "
             f"torch {machine['torch']} on {machine['torch_threads']} threads, "
             f"GPU {machine['gpu'] or 'none'}; load {machine['load_average']}", "",
             "| figure | bar | measured | met |", "|---|---|---|---|"]
    for key, bar, test in BARS:
        value = figures.get(key)
        if value is None:
            where = "needs --root" if key == "wikipedia_pipeline_s" else "not in --quick"
            lines.append(f"| {key} | {bar} | not measured ({where}) | |")
        else:
            met = "" if test is None else "yes" if test(value) else "no"
            lines.append(f"| {key} | {bar} | {value:,.3g} | {met} |")
    lines += ["", "| stage | items | pairs | seconds (median of) | driver MB | largest worker MB |",
              "|---|---|---|---|---|---|"]
    for r in result["growth"]:
        lines.append(f"| {r['stage']} | {r['items']:,} | {r['pairs']:,} | "
                     f"{r['seconds']:.2f} ({r.get('repeats', 1)}) | {r['driver_mb']:.0f} | "
                     f"{r['worker_mb']:.0f} |")
    exponents = figures["growth_exponent"]
    if exponents:
        lines += ["", "growth exponents (two largest sizes): " + ", ".join(
            f"{stage} {value:.2f}" for stage, value in exponents.items())]
    return "\n".join(lines)


def read_benchmark(out: str | Path) -> dict[str, Any]:
    return json.loads((Path(out) / BENCHMARK_FILE).read_text(encoding="utf-8"))
