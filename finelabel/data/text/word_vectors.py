"""Word vectors for the vocabulary: word2vec trained on the training corpus, or read from a file.

Row ``i`` of every matrix here is the vector of vocabulary word ``i``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from finelabel.config import GraphConfig
from finelabel.data.text.vocabulary import Vocabulary
from finelabel.errors import DataError

# gensim cuts longer sentences silently; we cut them ourselves into pieces of this length.
_MAX_SENTENCE = 10_000


def train_word2vec(
    token_lists: Sequence[Sequence[str]],
    vocab: Vocabulary,
    *,
    dim: int = 50,
    window: int = 5,
    epochs: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """(|V|, dim) float32 word2vec (CBOW) vectors of the vocabulary words.

    gensim's vocabulary is set to exactly ``vocab`` (its counts as frequencies), so every word
    gets a vector and out-of-vocabulary tokens are skipped, as if the corpus were trimmed to V.
    One worker thread and a fixed seed make it deterministic: gensim 4 draws the initial vectors
    from ``numpy.random.default_rng(seed)``, not from Python's salted ``hash()``.
    """
    from gensim.models import Word2Vec  # lazy: gensim is slow to import

    if len(vocab) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    logging.getLogger("gensim").setLevel(logging.WARNING)
    model = Word2Vec(vector_size=dim, window=window, min_count=1, workers=1, seed=seed,
                     epochs=epochs)
    model.build_vocab_from_freq(dict(zip(vocab.words, vocab.counts, strict=True)))
    sentences = list(_pieces(token_lists))
    model.train(sentences, total_examples=len(sentences),
                total_words=sum(len(tokens) for tokens in sentences), epochs=epochs)
    rows = [model.wv.key_to_index[word] for word in vocab.words]
    return np.ascontiguousarray(model.wv.vectors[rows], dtype=np.float32)


def _pieces(token_lists: Sequence[Sequence[str]]) -> Iterator[list[str]]:
    for tokens in token_lists:
        for start in range(0, len(tokens), _MAX_SENTENCE):
            yield list(tokens[start:start + _MAX_SENTENCE])


def read_word_vectors(path: str | Path, vocab: Vocabulary, *, seed: int = 0
                      ) -> tuple[np.ndarray, int]:
    """Vectors of ``vocab`` from a word2vec text file (``count dim`` header) or GloVe (none).

    Returns ``(vectors, missing)``: (|V|, dim) float32, and how many vocabulary words the file
    lacks; those get a small random vector (uniform in +-0.1/dim, seeded) so the graph still
    has a place for them. Words match exactly; the first occurrence of a word wins.
    """
    path = Path(path)
    found: dict[int, np.ndarray] = {}
    dim = None
    for number, line in _lines(path):
        fields = line.split()
        if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
            dim = int(fields[1])  # word2vec header: "count dim"
            continue
        if not line.strip():
            continue
        dim = dim or len(fields) - 1
        word, vector = _parse_vector(line, dim, path, number)
        if word in vocab and vocab.index(word) not in found:
            found[vocab.index(word)] = vector
    if dim is None or dim < 1:
        raise DataError("no word vectors in the file", path=path, reason="empty",
                        record_level=False, hint="Give a word2vec or GloVe text file")
    return _assemble(found, len(vocab), dim, seed), len(vocab) - len(found)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except FileNotFoundError:
        raise DataError("word-vector file not found", path=path, reason="missing_file",
                        record_level=False, hint="Check graph.vectors") from None
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", path=path, reason="not_utf8", record_level=False,
                        hint="Binary word2vec files are not read: save them with "
                             "KeyedVectors.save_word2vec_format(path, binary=False)") from None


def _parse_vector(line: str, dim: int, path: Path, number: int) -> tuple[str, np.ndarray]:
    """``word v1 .. vdim``; the word itself may contain spaces (some GloVe files)."""
    fields = line.rstrip().rsplit(" ", dim)
    try:
        if len(fields) != dim + 1 or not fields[0].strip() or _spills(fields[0]):
            raise ValueError(f"expected a word and {dim} numbers, got {len(line.split())} fields")
        return fields[0], np.asarray(fields[1:], dtype=np.float32)
    except ValueError as error:
        raise DataError(f"malformed word vector: {error}", path=path, line=number,
                        reason="malformed", record_level=False,
                        hint="Each line must be 'word v1 ... vd' with the same d") from None


def _spills(word: str) -> bool:
    """A "word" with spaces that ends in a number: the line has too many numbers."""
    parts = word.split()
    if len(parts) < 2:
        return False
    try:
        float(parts[-1])
    except ValueError:
        return False
    return True


def _assemble(found: dict[int, np.ndarray], size: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.uniform(-0.1 / dim, 0.1 / dim, size=(size, dim)).astype(np.float32)
    for index, vector in found.items():
        vectors[index] = vector
    return vectors


def make_word_vectors(token_lists: Sequence[Sequence[str]], vocab: Vocabulary,
                      config: GraphConfig) -> tuple[np.ndarray, int]:
    """``config.vectors``: ``word2vec`` trains on ``token_lists``; else it names a vector file.

    Returns ``(vectors, missing)``; ``missing`` is 0 for trained vectors.
    """
    if config.vectors == "word2vec":
        vectors = train_word2vec(token_lists, vocab, dim=config.dim, window=config.window,
                                 epochs=config.epochs, seed=config.seed)
        return vectors, 0
    vectors, missing = read_word_vectors(config.vectors, vocab, seed=config.seed)
    return vectors, missing
