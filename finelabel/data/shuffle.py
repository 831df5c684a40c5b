"""A seeded shuffle of millions of values that stays in cache.

``values[rng.permutation(n)]`` probes all n values at random twice (the permutation, then the
gather); past the cache size every probe misses, so shuffling 10x the values costs ~20x. Here
each value goes to a random bucket (a radix sort of 16-bit keys, which streams through memory)
and each bucket, small enough for a core's cache, is shuffled on its own. Every order stays
equally likely: the bucket sizes are random and the order within each bucket is uniform.
"""

from __future__ import annotations

import numpy as np

#: int64 values per bucket on average: 256 KB, a core's L2 cache.
BUCKET = 1 << 15


def shuffled(values: np.ndarray, rng: np.random.Generator, bucket: int = BUCKET) -> np.ndarray:
    """A uniformly random permutation of the 1-D ``values`` (a new array)."""
    buckets = max(1, -(-len(values) // bucket))
    if buckets > np.iinfo(np.uint16).max:
        raise ValueError(f"{len(values):,} values need {buckets:,} buckets of {bucket:,}; "
                         "pass a larger bucket")
    key = rng.integers(0, buckets, len(values), dtype=np.uint16)
    out = values[np.argsort(key, kind="stable")]
    start = 0
    for end in np.cumsum(np.bincount(key, minlength=buckets)).tolist():
        rng.shuffle(out[start:end])
        start = end
    return out
