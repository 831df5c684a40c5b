"""``finelabel benchmark --quick``: the structure of what it writes and prints (not its speed)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from finelabel.benchmark.growth import STAGES
from finelabel.benchmark.suite import BARS, Plan, format_table, run_benchmark

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick(ray_local, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    lines: list[str] = []
    return out, run_benchmark(out, quick=True, progress=lines.append), lines


def test_quick_benchmark_writes_every_figure(quick):
    out, result, lines = quick
    assert json.loads((out / "benchmark.json").read_text()) == json.loads(json.dumps(result))
    figures = result["figures"]
    for key, _, _ in BARS:
        assert key in figures
    sizes = Plan.quick().sizes
    assert result["sizes"] == list(sizes)
    # Every stage ran at every size, timed, with its memory.
    seen = {(r["stage"], r["items"]) for r in result["growth"]}
    assert {stage for stage, _ in seen} == set(STAGES)
    assert len(result["growth"]) == len(STAGES) * len(sizes)
    for record in result["growth"]:
        assert record["seconds"] > 0 and record["driver_mb"] > 100
        # every size but the largest is measured Plan.growth_repeats times
        expected = Plan.quick().growth_repeats if record["items"] < max(sizes) else 1
        assert record["repeats"] == expected
    assert set(figures["growth_exponent"]) == set(STAGES)
    assert figures["max_growth_exponent"] == max(figures["growth_exponent"].values())
    label = max((r for r in result["growth"] if r["stage"] == "label"), key=lambda r: r["pairs"])
    assert figures["label_pairs"] == label["pairs"]
    assert figures["label_pairs_per_s"] == pytest.approx(label["pairs"] / label["seconds"])
    assert 0 < figures["train_step_fraction_of_bound"] < 2
    runs = result["training"]
    assert [runs[t]["workers"] for t in ("plain", "ray_1w", "ray_2w")] == [0, 1, 2]
    assert all(run["epochs"] == Plan.quick().throughput_epochs for run in runs.values())
    assert figures["ray_train_2w_vs_1w_synthetic"] == pytest.approx(
        runs["ray_1w"]["epoch_s"] / runs["ray_2w"]["epoch_s"])  # > 1: two workers are faster
    ddp = result["ddp_step"]
    assert figures["ddp_2w_vs_1w"] == pytest.approx(ddp["step_s"]["one"] / ddp["step_s"]["factors"])
    assert figures["ddp_2w_vs_1w_plain_allreduce"] == pytest.approx(
        ddp["step_s"]["one"] / ddp["step_s"]["plain"])
    assert ddp["all_reduce_s"] > 0 and ddp["shape"] == asdict(Plan.quick().step)
    assert figures["ray_train_1w_vs_plain"] == pytest.approx(
        runs["plain"]["epoch_s"] / runs["ray_1w"]["epoch_s"])
    assert figures["prepare_200k_s"] is None  # the large size is not part of --quick
    assert set(result["machine"]) >= {"cores", "torch_threads", "gpu"}
    assert any("warm-up" in line for line in lines)


def test_growth_plot_and_table(quick):
    out, result, _ = quick
    png = (out / "growth.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    table = format_table(result)
    for key, bar, _ in BARS:
        assert f"| {key} | {bar} |" in table
    assert "| prepare_200k_s | < 300 s | not measured (not in --quick) | |" in table
    assert "| wikipedia_pipeline_s | < 900 s | not measured (needs --root) | |" in table
    for stage in STAGES:
        assert f"| {stage} | 1,600 |" in table
