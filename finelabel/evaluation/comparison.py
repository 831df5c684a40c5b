"""Numbers across seeds: means with their spread, and paired differences with a plain verdict.

A method's MAP varies with the seed (pairs, initial weights, dropout); comparing two methods
seed by seed (same seed, same pairs and initial weights) removes most of that variation, so
the differences are paired and their standard error is that of the per-seed differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: A difference counts only beyond this many standard errors.
SIGNIFICANT_SE = 2.0


def summary(values: Sequence[float]) -> dict[str, float | list[float]]:
    """{"mean", "std" (sample, 0 for one value), "se", "values"}."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarise")
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "se": std / math.sqrt(n), "values": values}


def paired_difference(a: Sequence[float], b: Sequence[float]) -> dict[str, float | str]:
    """Mean and standard error of the per-seed differences a - b, and the verdict."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired values need the same seeds; got {len(a)} and {len(b)}")
    stats = summary([x - y for x, y in zip(a, b)])
    return {"mean": stats["mean"], "se": stats["se"], "n": len(a),
            "verdict": verdict(stats["mean"], stats["se"], len(a))}


def verdict(mean: float, se: float, n: int) -> str:
    """``better by X +- Y``, ``worse by X +- Y`` or ``not distinguishable (X +- Y)``."""
    text = f"{abs(mean):.4f} +- {se:.4f}"
    if n < 2:
        return f"one seed only: {mean:+.4f}, no error to judge by"
    if abs(mean) > SIGNIFICANT_SE * se:
        return f"{'better' if mean > 0 else 'worse'} by {text}"
    return f"not distinguishable ({mean:+.4f} +- {se:.4f})"
