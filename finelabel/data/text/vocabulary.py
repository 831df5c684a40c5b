"""The vocabulary V: the nodes of the word graph, built from the training split only.

Words are ordered by descending corpus frequency, then alphabetically, so the same corpus always
gives the same node numbering.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from finelabel.errors import DataError


@dataclass(frozen=True)
class Vocabulary:
    """Words with their training-corpus counts; word ``i`` is graph node ``i``."""

    words: tuple[str, ...]
    counts: tuple[int, ...]
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.counts):
            raise ValueError(f"{len(self.words)} words but {len(self.counts)} counts")
        index = {word: i for i, word in enumerate(self.words)}
        if len(index) != len(self.words):
            raise ValueError("vocabulary words must be unique")
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_corpus(cls, token_lists: Iterable[Sequence[str]], min_freq: int) -> Vocabulary:
        """Words whose frequency over all ``token_lists`` is strictly above ``min_freq``."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        kept = sorted((item for item in counter.items() if item[1] > min_freq),
                      key=lambda item: (-item[1], item[0]))
        return cls(tuple(word for word, _ in kept), tuple(count for _, count in kept))

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    @property
    def word_to_index(self) -> dict[str, int]:
        """A plain ``{word: node}`` dict (a copy): cheap to ship to Ray workers on its own."""
        return dict(self._index)

    def index(self, word: str) -> int:
        """The node number of ``word``; KeyError when it is not in the vocabulary."""
        try:
            return self._index[word]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary") from None

    def indices(self, tokens: Iterable[str]) -> np.ndarray:
        """(n,) int64 node numbers of the in-vocabulary tokens, in order; others are dropped."""
        get = self._index.get
        found = [i for i in (get(token) for token in tokens) if i is not None]
        return np.asarray(found, dtype=np.int64)

    def save(self, path: str | Path) -> None:
        """Write ``word<TAB>count``, one word a line, in node order (UTF-8)."""
        pairs = zip(self.words, self.counts, strict=True)
        lines = "".join(f"{word}\t{count}\n" for word, count in pairs)
        Path(path).write_text(lines, encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a file written by :meth:`save`; keeps the file's order."""
        path = Path(path)
        if not path.is_file():
            raise DataError("vocabulary file not found", path=path, reason="missing_file",
                            hint="Run the prepare stage first", record_level=False)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise DataError(f"not UTF-8 ({error.reason})", path=path, reason="not_utf8",
                            record_level=False) from None
        seen: dict[str, int] = {}
        counts = []
        for number, line in enumerate(lines, start=1):
            word, count = _parse_line(line, path, number)
            if word in seen:
                raise DataError(f"word {word!r} repeats line {seen[word]}", path=path,
                                line=number, reason="duplicate", record_level=False)
            seen[word] = number
            counts.append(count)
        return cls(tuple(seen), tuple(counts))


def _parse_line(line: str, path: Path, number: int) -> tuple[str, int]:
    fields = line.split("\t")
    if len(fields) != 2 or not fields[0] or not fields[1].strip().isdigit():
        raise DataError(f"expected 'word<TAB>count', got {line.rstrip()!r}", path=path,
                        line=number, reason="malformed", record_level=False,
                        hint="Rebuild the vocabulary with the prepare stage")
    return fields[0], int(fields[1])
