"""Precision-recall curve plots, written as PNG files for a run's artifacts.

Uses matplotlib's object API with the Agg canvas inside the function, so importing this module
(or the package) never selects a backend or touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

Curve = tuple[np.ndarray, np.ndarray]


def plot_pr_curves(
    curves: Mapping[str, Curve], path: str | Path, title: str = "Precision-recall"
) -> Path:
    """Draw each named (recall, precision) curve on one axes and save it as a PNG at ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError("plot_pr_curves needs at least one curve")
    figure = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, (recall, precision) in curves.items():
        axes.plot(recall, precision, marker="o", markersize=3, label=name)
    axes.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
