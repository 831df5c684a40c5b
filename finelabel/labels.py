"""Fine-grained hardness labels from siamese text-text similarities (DESIGN.md section 1).

For a training pair (T_i, I_j) the siamese similarity r = r(T_i, T_j) says how alike the two
texts are. Among positives and, separately, among negatives, r is cut into quantile bins and F
is the binned empirical CDF of that polarity: the fraction of its pairs whose bin is at or below
the pair's bin. A positive with low r is hard, l = 1 - F+(r); a negative with high r is hard,
l = F-(r). Equal r always gets an equal label, and a polarity has at most ``bins`` label values.

Two consequences of the formula worth knowing: the easiest positives get l = 0 and the hardest
negatives l = 1, while the hardest positives get 1 - F+(first bin) (about 1 - 1/bins) and the
easiest negatives F-(first bin) (about 1/bins).

:func:`fit_hardness_bins` returns the edges and CDFs so that a run can record them, and so that
labels can be computed batch by batch (e.g. in a Ray Data actor) after fitting on all r once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch stays out of the Ray Data tasks that label pairs
    import torch

    ArrayLike = np.ndarray | torch.Tensor


def _as_numpy(values: ArrayLike, dtype: type) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values).astype(dtype, copy=False).reshape(-1)


def _inputs(similarity: ArrayLike, positive: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r = _as_numpy(similarity, np.float64)
    pos = _as_numpy(positive, bool)
    if r.shape != pos.shape:
        raise ValueError(f"similarity and positive must have one value per pair; got {r.size} "
                         f"and {pos.size}")
    if np.isnan(r).any():
        raise ValueError(f"similarity has {int(np.isnan(r).sum())} NaN values; "
                         "check the siamese checkpoint")
    return r, pos


def _bin_of(r: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index of each r: bins are [e_b, e_b+1), the last one closed; outside values clip."""
    return np.searchsorted(edges[1:-1], r, side="right")


@dataclass(frozen=True)
class PolarityBins:
    """Quantile bin edges (bins + 1,) of one polarity's r and its binned CDF (bins,)."""

    edges: np.ndarray
    cdf: np.ndarray

    def cdf_of(self, r: np.ndarray) -> np.ndarray:
        """F(r): the fraction of the fitted values in bins up to and including r's bin."""
        if r.size and self.edges.size == 0:
            raise ValueError("no pairs of this polarity were seen when fitting the bins")
        return self.cdf[_bin_of(r, self.edges)] if r.size else np.zeros(0)


def _fit_polarity(r: np.ndarray, bins: int) -> PolarityBins:
    if r.size == 0:
        return PolarityBins(np.zeros(0), np.zeros(0))
    edges = np.quantile(r, np.linspace(0.0, 1.0, bins + 1))
    edges = np.maximum.accumulate(edges)  # guard against rounding making edges non-monotone
    counts = np.bincount(_bin_of(r, edges), minlength=bins)
    return PolarityBins(edges, np.cumsum(counts) / r.size)


@dataclass(frozen=True)
class HardnessBins:
    """The fitted bins of both polarities; :meth:`labels` turns similarities into labels."""

    positive: PolarityBins
    negative: PolarityBins

    def labels(self, similarity: ArrayLike, positive: ArrayLike) -> np.ndarray:
        """(N,) float32 hardness labels in [0, 1] for (N,) similarities and polarities."""
        r, pos = _inputs(similarity, positive)
        out = np.empty(r.size, dtype=np.float64)
        out[pos] = 1.0 - self.positive.cdf_of(r[pos])
        out[~pos] = self.negative.cdf_of(r[~pos])
        return out.astype(np.float32)

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> HardnessBins:
        """The bins :meth:`to_dict` wrote."""
        def side(name: str) -> PolarityBins:
            return PolarityBins(np.asarray(data[f"{name}_edges"], dtype=np.float64),
                                np.asarray(data[f"{name}_cdf"], dtype=np.float64))

        return cls(side("positive"), side("negative"))

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists of edges and CDFs, for recording with a run."""
        return {
            "positive_edges": self.positive.edges.tolist(),
            "positive_cdf": self.positive.cdf.tolist(),
            "negative_edges": self.negative.edges.tolist(),
            "negative_cdf": self.negative.cdf.tolist(),
        }


def fit_hardness_bins(similarity: ArrayLike, positive: ArrayLike, bins: int = 9) -> HardnessBins:
    """Fit quantile bins of r per polarity over all training pairs (N,) and (N,) bool."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    r, pos = _inputs(similarity, positive)
    return HardnessBins(_fit_polarity(r[pos], bins), _fit_polarity(r[~pos], bins))


def shuffle_within_polarity(labels: np.ndarray, positive: np.ndarray,
                            rng: np.random.Generator) -> np.ndarray:
    """The control of the method: ``labels`` permuted among the pairs of the same polarity.

    Each polarity keeps exactly its labels (their distribution, their means); which pair gets
    which is random, so whatever a label said about its pair is gone.
    """
    out = np.array(labels, copy=True)
    positive = np.asarray(positive, dtype=bool)
    for side in (positive, ~positive):
        index = np.flatnonzero(side)
        out[index] = out[rng.permutation(index)]
    return out


def with_hardness(batch: dict[str, np.ndarray], *, bins: HardnessBins) -> dict[str, np.ndarray]:
    """A Ray Data batch of scored pairs (``similarity``, ``positive``) plus ``hardness``."""
    return {**batch, "hardness": bins.labels(batch["similarity"], batch["positive"])}
