"""reused_memory: a step's large freed buffers are reused, not faulted in again from the kernel.

Counted in page faults, not seconds, so the test holds on a loaded machine.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from finelabel.train import reused_memory as module
from finelabel.train.reused_memory import reused_memory

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or module._user_tuned(),
    reason="glibc's allocator, untuned from outside, only")

NUMBERS = 12_000_000  # 48 MB: above glibc's largest mmap threshold (32 MB)
PAGES = NUMBERS * 4 / resource.getpagesize()


def faults_per_step(steps: int = 4, warmup: int = 8) -> float:
    """Minor page faults per 'step' that allocates, writes and frees gradient-sized buffers,
    after ``warmup`` steps (glibc's aligned allocations take a few to find their places)."""
    def step() -> None:
        torch.ones(NUMBERS).add_(torch.ones(NUMBERS // 3).sum())

    for _ in range(warmup):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / steps


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def in_a_fresh_process(body: str) -> dict[str, float]:
    """Run ``body`` (which sets ``result``) in a new interpreter: what glibc does with a
    request depends on what the heap already holds, and this one's holds the other tests'."""
    code = ("import json\nfrom tests.train.test_reused_memory import *\n"
            f"{textwrap.dedent(body)}\nprint(json.dumps(result))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).parents[2], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_a_freed_large_buffer_is_reused_without_faulting_it_in_again():
    faults = in_a_fresh_process("""
        import threading
        outside = faults_per_step()
        with reused_memory():
            inside = faults_per_step()
        threaded = {}  # a thread allocates from an arena of its own (Ray Train's loop runs in one)
        def in_a_thread():
            with reused_memory():
                threaded["inside"] = faults_per_step()
        worker = threading.Thread(target=in_a_thread)
        worker.start()
        worker.join()
        result = {"outside": outside, "inside": inside, "thread": threaded["inside"]}
    """)
    # outside, every step maps fresh memory (huge pages, if on, fault per 2 MB instead)
    assert faults["outside"] >= NUMBERS * 4 / (2 << 20)
    assert faults["inside"] < min(faults["outside"] / 10, PAGES / 100)
    assert faults["thread"] < min(faults["outside"] / 10, PAGES / 100)


def test_leaving_hands_the_kept_memory_back():
    rss = in_a_fresh_process("""
        before = resident_bytes()
        with reused_memory():
            faults_per_step(steps=2, warmup=4)
            inside = resident_bytes()
        result = {"kept": inside - before, "after": resident_bytes() - before}
    """)
    assert rss["kept"] >= NUMBERS * 4  # at least the large buffer stayed in the process
    assert rss["kept"] - rss["after"] >= NUMBERS * 4  # and went back to the kernel on leaving


def test_nested_uses_keep_the_settings_until_the_outermost_leaves():
    with reused_memory():
        with reused_memory():
            pass
        assert faults_per_step() < PAGES / 100
    assert module._depth == 0


def test_an_allocator_tuned_from_the_environment_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    with reused_memory():
        assert module._depth == 0  # nothing was set


def test_a_training_epoch_stops_faulting_its_gradients_in_after_warm_up():
    """train_epoch runs its steps inside reused_memory: at |V| = 10k and d = 1024 the text
    FC's weight gradient alone is 41 MB, faulted in afresh by every step without it."""
    from finelabel.benchmark.train_step import StepShape, knn_graph, step_inputs
    from finelabel.config import LossConfig, ModelConfig
    from finelabel.models import build_dual_path
    from finelabel.train.steps import PairBatch, train_epoch

    shape = StepShape(batch=8)
    torch.manual_seed(0)
    model = build_dual_path(ModelConfig(embed_dim=shape.embed_dim), knn_graph(shape.nodes),
                            shape.nodes, shape.image_dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    text, image, positive = step_inputs(shape, shape.nodes)
    faults: list[int] = []

    def batches():
        for _ in range(16):
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt)
            yield PairBatch(text, image, positive, None)

    train_epoch(model, batches(), optimizer, LossConfig(), beta=0.0)
    gradient_pages = shape.nodes * shape.embed_dim * 4 / resource.getpagesize()
    late = (faults[-1] - faults[10]) / (len(faults) - 11)
    assert late < gradient_pages / 100
