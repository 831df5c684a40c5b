"""Reading back what a plot drew: the figure before it is saved, and the PNG it became."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from finelabel.report import plots


def capture_figures(monkeypatch: pytest.MonkeyPatch) -> list:
    """Keep every figure the plots module saves (it still saves them), to read its artists."""
    figures = []
    save = plots._save

    def keep(figure, path):
        figures.append(figure)
        return save(figure, path)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def read_png(path: Path, size: tuple[float, float], dpi: int = 100) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] of a PNG of a ``size`` (inches) figure; fails on a blank one."""
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    image = imread(path)[..., :3]
    assert image.shape == (round(size[1] * dpi), round(size[0] * dpi), 3)
    assert (image.max(axis=-1) < 0.5).mean() > 0.002  # text, ticks and frame: not a bare canvas
    return image


def pixels_of(image: np.ndarray, colour, alpha: float | None = None) -> int:
    """How many pixels have (nearly) ``colour``, drawn with ``alpha`` on white: a drawn line or
    bar shows up in the PNG."""
    alpha = 1.0 if alpha is None else alpha
    rgb = alpha * np.array(to_rgb(colour)) + (1 - alpha)  # on a white background
    return int((np.abs(image - rgb).max(axis=-1) < 0.06).sum())
