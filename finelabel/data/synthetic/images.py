"""Small images for the synthetic dataset: the category sets the colours and the shape drawn,
the random stream sets position, size, colour jitter and pixel noise."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("ellipse", "rectangle", "triangle", "cross", "ring", "diamond")
_GOLDEN = 0.618033988749895


def category_colours(category: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(background, foreground) RGB of a category; hues spread by the golden ratio."""
    hue = (category * _GOLDEN) % 1.0
    back = colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.35, 0.85)
    fore = colorsys.hsv_to_rgb(hue, 0.9, 0.75)
    return tuple(int(255 * c) for c in back), tuple(int(255 * c) for c in fore)


def _jitter(rng: np.random.Generator, colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(int(np.clip(c + rng.integers(-30, 31), 0, 255)) for c in colour)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int],
                colour: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    cx, cy, width = (x0 + x1) // 2, (y0 + y1) // 2, max(1, (x1 - x0) // 5)
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    elif shape == "rectangle":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=colour)
    elif shape == "cross":
        draw.line([(x0, cy), (x1, cy)], fill=colour, width=width)
        draw.line([(cx, y0), (cx, y1)], fill=colour, width=width)
    elif shape == "ring":
        draw.ellipse(box, outline=colour, width=width)
    else:  # diamond
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour)


def draw_image(rng: np.random.Generator, category: int, size: int) -> Image.Image:
    """A ``size`` x ``size`` RGB image of 1-3 shapes of the category's kind, with noise."""
    back, fore = category_colours(category)
    image = Image.new("RGB", (size, size), _jitter(rng, back))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(1, 4))):
        extent = int(rng.integers(size // 4, size // 2 + 1))
        x0, y0 = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
        _draw_shape(draw, SHAPES[category % len(SHAPES)], (x0, y0, x0 + extent, y0 + extent),
                    _jitter(rng, fore))
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0.0, 12.0, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
