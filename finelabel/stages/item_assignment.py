"""Which kept record becomes which item, in which split: the prepare stage's assignment.

Held as two arrays because Ray ships it to every task that writes items: at 204,800 records
a dict of tuples took ~60 ms to unpickle per task on a quiet machine and ~550 ms on a loaded
one; the arrays take ~3 ms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class ItemAssignment:
    """Item i is the i-th kept record in record order, ``rids[i]``, in split
    ``SPLIT_NAMES[codes[i]]``."""

    rids: np.ndarray  # (n,) int64, strictly increasing
    codes: np.ndarray  # (n,) int8

    @classmethod
    def from_splits(cls, rids: np.ndarray, splits: np.ndarray) -> ItemAssignment:
        """``rids`` sorted record ids, ``splits`` their split names."""
        rids = np.asarray(rids, dtype=np.int64)
        if len(rids) > 1 and not (np.diff(rids) > 0).all():
            raise ValueError("record ids must be strictly increasing")
        names = np.asarray(splits, dtype=object)
        unknown = set(names.tolist()) - set(SPLIT_NAMES)
        if unknown:
            raise ValueError(f"unknown split(s) {sorted(unknown)}; expected {SPLIT_NAMES}")
        codes = np.zeros(len(names), dtype=np.int8)
        for code, name in enumerate(SPLIT_NAMES):
            codes[names == name] = code
        return cls(rids, codes)

    def __len__(self) -> int:
        return len(self.rids)

    def lookup(self, rids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For records ``rids``: (mask of the kept ones, their item ids, their split names)."""
        rids = np.asarray(rids, dtype=np.int64)
        at = np.searchsorted(self.rids, rids)
        kept = at < len(self.rids)
        kept[kept] = self.rids[at[kept]] == rids[kept]
        items = at[kept]
        return kept, items, np.asarray(SPLIT_NAMES, dtype=object)[self.codes[items]]

    def rids_of(self, split: str) -> np.ndarray:
        """The record ids assigned to ``split``, in order."""
        return self.rids[self.codes == SPLIT_NAMES.index(split)]

    def counts(self) -> dict[str, int]:
        """Items per split."""
        per_code = np.bincount(self.codes, minlength=len(SPLIT_NAMES))
        return {name: int(n) for name, n in zip(SPLIT_NAMES, per_code)}
