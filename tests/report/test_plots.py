"""Plots draw the numbers they are given, and the PNG shows them (not an empty canvas)."""

import numpy as np
import pytest

from finelabel.report.plots import plot_growth, plot_method_bars, plot_pr_curves
from tests.report.figures import capture_figures, pixels_of, read_png


def test_plot_pr_curves_writes_a_png(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    recall = np.linspace(0, 1, 11)
    curves = {"i2t": (recall, 1 - 0.5 * recall), "t2i": (recall, 0.9 - 0.6 * recall)}
    path = plot_pr_curves(curves, tmp_path / "plots" / "pr.png", title="test")
    (axes,) = figures[0].axes
    assert [line.get_label() for line in axes.lines] == ["i2t", "t2i"]
    for line, (x, y) in zip(axes.lines, curves.values()):
        np.testing.assert_array_equal(line.get_xdata(), x)  # recall across, precision up
        np.testing.assert_array_equal(line.get_ydata(), y)
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["i2t", "t2i"]
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_title()) == (
        "recall", "precision", "test")
    image = read_png(path, (5, 4))
    for line in axes.lines:
        assert pixels_of(image, line.get_color()) > 100, line.get_label()


def test_plot_pr_curves_needs_a_curve(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        plot_pr_curves({}, tmp_path / "pr.png")


def test_method_bars_show_each_mean_with_its_spread(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    stats = {"ours": {"mean": 0.42, "std": 0.03}, "beta=0": {"mean": 0.35, "std": 0.01},
             "random": {"mean": 0.2, "std": 0.0}}
    path = plot_method_bars(stats, tmp_path / "bars.png", title="MAP")
    (axes,) = figures[0].axes
    assert [t.get_text() for t in axes.get_xticklabels()] == list(stats)
    assert [bar.get_height() for bar in axes.patches] == [s["mean"] for s in stats.values()]
    assert [t.get_text() for t in axes.texts] == ["0.420", "0.350", "0.200"]
    (errors,) = [c for c in axes.containers if hasattr(c, "has_yerr") and c.has_yerr]
    spans = [segment[:, 1] for segment in errors.lines[2][0].get_segments()]
    np.testing.assert_allclose([hi - lo for lo, hi in spans], [0.06, 0.02, 0.0], atol=1e-9)
    image = read_png(path, (5, 4))
    assert pixels_of(image, "#4c72b0") > 2_000  # three filled bars
    with pytest.raises(ValueError, match="at least one method"):
        plot_method_bars({}, tmp_path / "none.png")


def test_growth_plot_draws_each_stage_on_log_axes(tmp_path, monkeypatch):
    figures = capture_figures(monkeypatch)
    records = [{"stage": stage, "items": items, "seconds": scale * items / 1000,
                "driver_mb": 500 + items / 100}
               for stage, scale in (("prepare", 1.0), ("label", 3.0))
               for items in (20_000, 2_000)]  # out of order: the plot sorts by items
    path = plot_growth(records, tmp_path / "growth.png")
    time_axes, memory_axes = figures[0].axes
    assert [line.get_label() for line in time_axes.lines] == ["prepare", "label"]
    np.testing.assert_array_equal(time_axes.lines[1].get_xdata(), [2_000, 20_000])
    np.testing.assert_allclose(time_axes.lines[1].get_ydata(), [6.0, 60.0])
    np.testing.assert_allclose(memory_axes.lines[0].get_ydata(), [520.0, 700.0])
    for axes in (time_axes, memory_axes):
        assert axes.get_xscale() == axes.get_yscale() == "log"
    assert memory_axes.get_ylabel() == "peak driver RSS (MB)"
    image = read_png(path, (11, 4.5))
    for line in time_axes.lines:
        assert pixels_of(image, line.get_color()) > 50, line.get_label()
    with pytest.raises(ValueError, match="at least one measurement"):
        plot_growth([], tmp_path / "none.png")
