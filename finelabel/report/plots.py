"""Plots written as PNG files for a run's artifacts: precision-recall, search trials.

Uses matplotlib's object API with the Agg canvas inside the function, so importing this module
(or the package) never selects a backend or touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

Curve = tuple[np.ndarray, np.ndarray]


def _figure(size: tuple[float, float]):
    """A figure on its own Agg canvas (no pyplot) and its one axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_pr_curves(
    curves: Mapping[str, Curve], path: str | Path, title: str = "Precision-recall"
) -> Path:
    """Draw each named (recall, precision) curve on one axes and save it as a PNG at ``path``."""
    if not curves:
        raise ValueError("plot_pr_curves needs at least one curve")
    figure, axes = _figure((5, 4))
    for name, (recall, precision) in curves.items():
        axes.plot(recall, precision, marker="o", markersize=3, label=name)
    axes.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    return _save(figure, path)


def plot_trial_curves(
    curves: Mapping[str, Curve], path: str | Path, *, metric: str, best: str | None = None,
    title: str = "Search trials",
) -> Path:
    """One line per trial: ``metric`` (y) against epoch (x); the ``best`` trial drawn bold."""
    from matplotlib.ticker import MaxNLocator

    if not curves:
        raise ValueError("plot_trial_curves needs at least one trial")
    figure, axes = _figure((6, 4))
    for name, (epochs, values) in curves.items():
        bold = name == best
        axes.plot(epochs, values, marker="o", markersize=3, linewidth=2.5 if bold else 1,
                  alpha=1.0 if bold or best is None else 0.6,
                  label=f"{name} (best)" if bold else name)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs
    axes.set(xlabel="epoch", ylabel=metric, title=title)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    return _save(figure, path)


def plot_method_bars(stats: Mapping[str, Mapping[str, float]], path: str | Path, *,
                     title: str = "test MAP") -> Path:
    """One bar per method: its mean, with the standard deviation over seeds as error bar."""
    if not stats:
        raise ValueError("plot_method_bars needs at least one method")
    names = list(stats)
    means = [stats[n]["mean"] for n in names]
    errors = [stats[n]["std"] for n in names]
    figure, axes = _figure((max(5, 0.9 * len(names) + 1), 4))
    bars = axes.bar(names, means, yerr=errors, capsize=4, color="#4c72b0")
    for bar, mean in zip(bars, means):
        axes.annotate(f"{mean:.3f}", (bar.get_x() + bar.get_width() / 2, mean),
                      textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    axes.set(ylabel="MAP", title=title, ylim=(0, max(means) * 1.25 + 1e-6))
    axes.tick_params(axis="x", labelrotation=30)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def plot_growth(records: list[Mapping[str, float]], path: str | Path, *,
                title: str = "Cost as the collection grows") -> Path:
    """Log-log seconds (left) and peak driver memory (right) per stage against items."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not records:
        raise ValueError("plot_growth needs at least one measurement")
    figure = Figure(figsize=(11, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    stages = list(dict.fromkeys(r["stage"] for r in records))
    for stage in stages:
        runs = sorted((r for r in records if r["stage"] == stage), key=lambda r: r["items"])
        items = [r["items"] for r in runs]
        left.plot(items, [max(r["seconds"], 1e-3) for r in runs], marker="o", label=stage)
        right.plot(items, [r["driver_mb"] for r in runs], marker="o", label=stage)
    left.set(xscale="log", yscale="log", xlabel="items", ylabel="seconds", title=title)
    right.set(xscale="log", yscale="log", xlabel="items", ylabel="peak driver RSS (MB)",
              title="Driver memory")
    for axes in (left, right):
        axes.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, path)
