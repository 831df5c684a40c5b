"""Seeded training pairs: positives (same category) and negatives (different category), 1 : 1.

Every possible pair is given a flat index in a "pool" laid out query by query: query i owns a
block of consecutive indices, one per target it can pair with. Sampling distinct flat indices
and mapping them back to (query, target) with a binary search draws pairs without duplicates,
without ever listing the pool, so 409,600 pairs over 2,000 items take milliseconds.

Modes:
- cross-modal (default): text ``i`` of the query set with image ``j`` of the target set. With
  ``include_original``, the sets are the same items (text i goes with image i), and the original
  pairs (i, i) are taken first among the positives (a seeded random subset of them when fewer
  positives are asked for than there are items); the rest are drawn from the other positives.
- ``same_set``: siamese text-text pairs within one set. An item is never paired with itself and
  a pair is unordered ((a, b) and (b, a) count as the same pair), each drawn pair being put in a
  random orientation. ``include_original`` does not apply (an original pair would be a self
  pair).

When more pairs of a polarity are asked for than exist, every distinct pair is used once and
the rest are drawn again uniformly from the pool (repeats), so the count and the 1 : 1 ratio
hold; a warning says how many repeat. A polarity with no possible pair at all is an error.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from finelabel.data.shuffle import shuffled
from finelabel.errors import DataError

log = logging.getLogger(__name__)

_LOW_31 = (1 << 31) - 1


def _distinct_sorted(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random m-subset of ``range(n)``, sorted (m <= n).

    Drawn with replacement and topped up until m are distinct: the process treats every
    element alike, so every subset is equally likely, and it needs one sort instead of
    ``choice``'s hash set and a shuffle, whose random probes of a 2M-element set miss the cache
    (2M of 10^10: 0.47 s -> 0.06 s). A dense draw (m > n / 4), where top-ups would repeat
    often, is a partial shuffle of ``range(n)``, which is then small.
    """
    if 4 * m > n:
        return np.sort(rng.choice(n, size=m, replace=False, shuffle=False))
    drawn = _sorted_unique(rng.integers(0, n, size=m))
    while len(drawn) < m:
        drawn = _sorted_unique(np.concatenate([drawn, rng.integers(0, n, size=m - len(drawn))]))
    return drawn


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting: numpy's hash-based unique is ~20x slower on 2M int64."""
    values = np.sort(values)
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


@dataclass(frozen=True)
class _Pool:
    """Pairs of one polarity: query i owns ``blocks[i]`` flat indices; ``target`` maps them."""

    blocks: np.ndarray  # (n_queries,) int64
    target: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (query, local) -> target index

    @property
    def size(self) -> int:
        return int(self.blocks.sum())

    def pairs(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query, target) index arrays of sorted flat pool indices (sorted, the binary
        searches walk ``ends`` in order instead of missing the cache on every probe)."""
        ends = np.cumsum(self.blocks)
        query = np.searchsorted(ends, flat, side="right")
        local = flat - (ends - self.blocks)[query]
        return query, self.target(query, local)


@dataclass(frozen=True)
class _Classes:
    """Targets grouped by category: ``order`` lists them class by class (stable)."""

    query_class: np.ndarray  # (n_queries,) class code of each query
    order: np.ndarray  # (n_targets,) target indices sorted by class
    start: np.ndarray  # (n_classes,) first position of each class in ``order``
    count: np.ndarray  # (n_classes,) targets per class
    rank: np.ndarray  # (n_targets,) position of each target within its class block

    @classmethod
    def of(cls, query_labels: np.ndarray, target_labels: np.ndarray) -> _Classes:
        classes = np.unique(np.concatenate([query_labels, target_labels]))
        target_class = np.searchsorted(classes, target_labels)
        order = np.argsort(target_class, kind="stable")
        count = np.bincount(target_class, minlength=len(classes))
        start = np.cumsum(count) - count
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order)) - start[target_class[order]]
        return cls(np.searchsorted(classes, query_labels), order, start, count, rank)


def _cross_pools(c: _Classes) -> tuple[_Pool, _Pool]:
    """Ordered (query, target) pools of two item sets."""
    start, count = c.start[c.query_class], c.count[c.query_class]  # (n_queries,) each
    n_targets = len(c.order)
    positive = _Pool(count, lambda q, j: c.order[start[q] + j])
    # Negatives of a class-k query: every target outside k's block, block skipped over.
    negative = _Pool(n_targets - count,
                     lambda q, j: c.order[j + count[q] * (j >= start[q])])
    return positive, negative


def _same_set_pools(c: _Classes) -> tuple[_Pool, _Pool]:
    """Unordered pools within one set: each pair is owned by its earlier item in ``order``."""
    start, count = c.start[c.query_class], c.count[c.query_class]
    later_in_class = count - 1 - c.rank  # query i is target i here
    positive = _Pool(later_in_class, lambda q, j: c.order[start[q] + c.rank[q] + 1 + j])
    end = start + count
    negative = _Pool(len(c.order) - end, lambda q, j: c.order[end[q] + j])
    return positive, negative


def _draw(pool: _Pool, m: int, rng: np.random.Generator, kind: str,
          exclude: np.ndarray | None = None) -> np.ndarray:
    """m sorted flat indices, distinct while the pool (less the sorted ``exclude``) lasts."""
    exclude = np.zeros(0, dtype=np.int64) if exclude is None else exclude
    available = pool.size - len(exclude)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    if pool.size == 0:
        raise DataError(f"no {kind} pair is possible with these labels", reason="no_pairs",
                        hint="check that the split has more than one category and more than "
                        "one item per category", record_level=False)
    distinct = min(m, available)
    drawn = _distinct_sorted(available, distinct, rng)
    drawn = drawn + np.searchsorted(exclude - np.arange(len(exclude)), drawn, side="right")
    if m > available:
        log.warning("asked for more %s pairs than exist: %d distinct, %d repeats", kind,
                    available + len(exclude), m - available)
        drawn = np.sort(np.concatenate([drawn, rng.integers(0, pool.size, size=m - available)]))
    return drawn


def _original_flat(pool: _Pool, c: _Classes) -> np.ndarray:
    """Sorted flat indices of the original pairs (i, i) in the positive cross pool."""
    starts = np.cumsum(pool.blocks) - pool.blocks
    return starts + c.rank  # target i sits at its class rank within query i's block


def _positives(pool: _Pool, c: _Classes, m: int, rng: np.random.Generator,
               include_original: bool) -> np.ndarray:
    if not include_original:
        return _draw(pool, m, rng, "positive")
    originals = _original_flat(pool, c)
    if m <= len(originals):
        return np.sort(rng.choice(originals, size=m, replace=False))
    return np.sort(np.concatenate([originals, _draw(pool, m - len(originals), rng, "positive",
                                                    exclude=originals)]))


def _check_inputs(query: np.ndarray, target: np.ndarray, n_pairs: int,
                  include_original: bool, same_set: bool) -> None:
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    paired = len(query) == len(target) and bool((query == target).all())
    if same_set and not paired:
        raise ValueError("same_set=True pairs items of one set: the two label arrays must match")
    if include_original and not same_set and not paired:
        raise ValueError("include_original=True needs paired sets (text i goes with image i, "
                         "same label); pass include_original=False for unrelated sets")


def sample_pairs(
    query_labels: np.ndarray,
    target_labels: np.ndarray,
    n_pairs: int,
    *,
    seed: int = 0,
    include_original: bool = True,
    same_set: bool = False,
) -> dict[str, np.ndarray]:
    """Sample ``n_pairs`` (text, image) pairs, half positive (the odd one positive too).

    Returns ``text_idx`` (indices into the query items) and ``image_idx`` (into the target
    items; into the same texts when ``same_set``), both (n_pairs,) int64, and ``positive``
    (n_pairs,) bool, in a seeded random order. See the module docstring for the modes.
    """
    n_pairs = operator.index(n_pairs)  # an integer, not a float such as 4e4
    query = np.asarray(query_labels).reshape(-1)
    target = np.asarray(target_labels).reshape(-1)
    if max(len(query), len(target)) > _LOW_31:
        raise ValueError("at most 2^31 - 1 items per side: a pair packs two item indices")
    _check_inputs(query, target, n_pairs, include_original, same_set)
    rng = np.random.default_rng(seed)
    classes = _Classes.of(query, target)
    positive_pool, negative_pool = (_same_set_pools if same_set else _cross_pools)(classes)
    n_negative = n_pairs // 2
    pos_flat = _positives(positive_pool, classes, n_pairs - n_negative, rng,
                          include_original and not same_set)
    neg_flat = _draw(negative_pool, n_negative, rng, "negative")
    pos_q, pos_t = positive_pool.pairs(pos_flat)
    neg_q, neg_t = negative_pool.pairs(neg_flat)
    text = np.concatenate([pos_q, neg_q]).astype(np.int64, copy=False)
    image = np.concatenate([pos_t, neg_t]).astype(np.int64, copy=False)
    if same_set:  # unordered pairs: a random side for each item
        swap = rng.random(n_pairs) < 0.5
        text, image = np.where(swap, image, text), np.where(swap, text, image)
    positive = np.arange(n_pairs) < len(pos_flat)
    # One array of (text, image, positive) shuffles in one pass instead of three gathers.
    packed = shuffled((text << 32) | (image << 1) | positive, rng)
    return {"text_idx": packed >> 32, "image_idx": (packed >> 1) & _LOW_31,
            "positive": (packed & 1).astype(bool)}
