import numpy as np
import pytest

from finelabel.report.plots import plot_pr_curves


def test_plot_pr_curves_writes_a_png(tmp_path):
    recall = np.linspace(0, 1, 11)
    curves = {"i2t": (recall, 1 - 0.5 * recall), "t2i": (recall, 0.9 - 0.6 * recall)}
    path = plot_pr_curves(curves, tmp_path / "plots" / "pr.png", title="test")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5_000  # axes, two curves and a legend, not an empty canvas


def test_plot_pr_curves_needs_a_curve(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        plot_pr_curves({}, tmp_path / "pr.png")
