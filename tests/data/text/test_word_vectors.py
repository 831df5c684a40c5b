"""Word vectors: seeded word2vec (deterministic across processes) and reading vector files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from finelabel.config import GraphConfig
from finelabel.data.text.vocabulary import Vocabulary
from finelabel.data.text.word_vectors import make_word_vectors, read_word_vectors, train_word2vec
from finelabel.errors import DataError
from tests.paths import REPO

ROOT = REPO


def _corpus(seed: int = 0) -> list[list[str]]:
    """Two topics of words; sentences draw from one topic, plus a few rare words."""
    rng = np.random.default_rng(seed)
    topics = [[f"sea{i}" for i in range(10)], [f"war{i}" for i in range(10)]]
    corpus = [list(rng.choice(topics[n % 2], size=30)) for n in range(120)]
    corpus[0] += ["rare"]
    return corpus


def test_every_vocabulary_word_gets_a_vector_in_vocabulary_order():
    """Row i is word i's vector whatever order the vocabulary keeps: gensim re-sorts words by
    frequency, so the same words listed rarest first must get the same vectors, re-ordered."""
    corpus = _corpus()
    vocab = Vocabulary.from_corpus(corpus, min_freq=0)
    vectors = train_word2vec(corpus, vocab, dim=8, epochs=2)
    assert vectors.shape == (len(vocab), 8) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all() and "rare" in vocab
    # rarest first; ties keep their order, so gensim's (stable) sort gives back its own order
    order = sorted(range(len(vocab)), key=lambda i: (vocab.counts[i], i))
    rarest_first = Vocabulary(tuple(vocab.words[i] for i in order),
                              tuple(vocab.counts[i] for i in order))
    assert rarest_first.words[0] == "rare" and order != list(range(len(vocab)))
    np.testing.assert_array_equal(train_word2vec(corpus, rarest_first, dim=8, epochs=2),
                                  vectors[order])


def test_out_of_vocabulary_tokens_are_skipped():
    corpus = _corpus()
    vocab = Vocabulary.from_corpus(corpus, min_freq=1)  # drops "rare"
    vectors = train_word2vec(corpus, vocab, dim=8, epochs=2)
    assert "rare" not in vocab and vectors.shape == (len(vocab), 8)


def test_word2vec_learns_the_topics():
    corpus = _corpus()
    vocab = Vocabulary.from_corpus(corpus, min_freq=1)
    vectors = train_word2vec(corpus, vocab, dim=16, window=5, epochs=20)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    sea = [vocab.index(f"sea{i}") for i in range(10)]
    war = [vocab.index(f"war{i}") for i in range(10)]
    assert sims[np.ix_(sea, sea)].mean() > sims[np.ix_(sea, war)].mean() + 0.2


_TRAIN_SCRIPT = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from tests.data.text.test_word_vectors import _corpus
from finelabel.data.text.vocabulary import Vocabulary
from finelabel.data.text.word_vectors import train_word2vec
corpus = _corpus()
np.save(sys.argv[1], train_word2vec(corpus, Vocabulary.from_corpus(corpus, 0), dim=8, epochs=3,
                                    seed=7))
"""


def test_word2vec_is_deterministic_across_processes(tmp_path):
    script = _TRAIN_SCRIPT.format(root=str(ROOT))
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"vectors{hash_seed}.npy"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, cwd=ROOT)
        outputs.append(np.load(out))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_empty_vocabulary_gives_an_empty_matrix():
    assert train_word2vec([["a"]], Vocabulary((), ()), dim=4).shape == (0, 4)


VOCAB = Vocabulary(("sea", "ship", "war"), (3, 2, 1))


def test_read_word2vec_text_format_with_header(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\nwar 1 2\nother 5 5\nsea -1.5 0.5\n", encoding="utf-8")
    vectors, missing = read_word_vectors(path, VOCAB)
    assert missing == 1 and vectors.shape == (3, 2) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors[[0, 2]], [[-1.5, 0.5], [1, 2]])
    assert np.abs(vectors[1]).max() <= 0.05 and np.abs(vectors[1]).max() > 0  # small, random


def test_read_glove_format_without_header(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("ship 0.1 0.2 0.3\nsea 1 2 3\nwar 4 5 6\nsea 9 9 9\n", encoding="utf-8")
    vectors, missing = read_word_vectors(path, VOCAB)
    assert missing == 0
    np.testing.assert_allclose(vectors, [[1, 2, 3], [0.1, 0.2, 0.3], [4, 5, 6]])  # first wins


def test_missing_words_get_seeded_vectors(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("sea 1 2 3\n", encoding="utf-8")
    first, _ = read_word_vectors(path, VOCAB, seed=3)
    again, _ = read_word_vectors(path, VOCAB, seed=3)
    other, _ = read_word_vectors(path, VOCAB, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[1:], other[1:])


@pytest.mark.parametrize(("text", "line"), [
    ("3 2\nsea 1 2\nship 1\n", 3),          # too few numbers
    ("sea 1 2\nship 1 2 3\n", 2),           # too many numbers
    ("sea 1 2\nship 1 two\n", 2),           # not a number
])
def test_malformed_line_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "vectors.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match="malformed") as caught:
        read_word_vectors(path, VOCAB)
    assert caught.value.path == str(path) and caught.value.line == line
    assert f"vectors.txt:{line}" in str(caught.value)


def test_missing_and_binary_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_word_vectors(tmp_path / "absent.txt", VOCAB)
    binary = tmp_path / "vectors.bin"
    binary.write_bytes(b"3 2\nsea \xff\xfe\x00\x01\n")
    with pytest.raises(DataError, match="binary=False"):
        read_word_vectors(binary, VOCAB)


def test_make_word_vectors_follows_the_graph_config(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("sea 1 2\nship 3 4\n", encoding="utf-8")
    vectors, missing = make_word_vectors([], VOCAB, GraphConfig(vectors=str(path)))
    assert vectors.shape == (3, 2) and missing == 1
    corpus = _corpus()
    vocab = Vocabulary.from_corpus(corpus, 1)
    trained, missing = make_word_vectors(corpus, vocab, GraphConfig(dim=4, epochs=1))
    assert trained.shape == (len(vocab), 4) and missing == 0
