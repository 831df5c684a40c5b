"""Vocabulary: the strict frequency threshold, deterministic order, save/load."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from finelabel.data.text.vocabulary import Vocabulary
from finelabel.errors import DataError

CORPUS = [["b", "a", "c", "a"], ["c", "a", "d"], ["b", "c", "e", "a"]]  # a4 c3 b2 d1 e1


def test_threshold_is_strictly_above_min_freq():
    assert Vocabulary.from_corpus(CORPUS, min_freq=2).words == ("a", "c")
    assert Vocabulary.from_corpus(CORPUS, min_freq=1).words == ("a", "c", "b")
    assert len(Vocabulary.from_corpus(CORPUS, min_freq=4)) == 0


def test_order_is_descending_count_then_alphabetical():
    vocab = Vocabulary.from_corpus([["z", "y", "x", "x", "w", "w"], ["y"]], min_freq=0)
    assert vocab.words == ("w", "x", "y", "z")
    assert vocab.counts == (2, 2, 2, 1)


def test_lookup():
    vocab = Vocabulary.from_corpus(CORPUS, min_freq=1)
    assert vocab.index("c") == 1 and "b" in vocab and "d" not in vocab and len(vocab) == 3
    with pytest.raises(KeyError, match="'d'"):
        vocab.index("d")
    np.testing.assert_array_equal(vocab.indices(["b", "d", "a", "b"]), [2, 0, 2])
    assert vocab.word_to_index == {"a": 0, "c": 1, "b": 2}
    assert vocab.indices([]).dtype == np.int64


def test_duplicate_words_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        Vocabulary(("a", "a"), (1, 1))


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary.from_corpus(CORPUS + [["café", "博物馆"] * 3], min_freq=1)
    path = tmp_path / "vocab.tsv"
    vocab.save(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "a\t4"
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.index("博物馆") == vocab.index("博物馆")


def test_pickles():
    vocab = Vocabulary.from_corpus(CORPUS, min_freq=0)
    copy = pickle.loads(pickle.dumps(vocab))
    assert copy == vocab and copy.index("e") == vocab.index("e")


@pytest.mark.parametrize(("text", "line", "reason", "says"), [
    ("a\t3\nb three\n", 2, "malformed", "expected 'word<TAB>count', got 'b three'"),
    ("a\t3\nb\tx\n", 2, "malformed", "expected 'word<TAB>count', got 'b\\tx'"),
    ("a\t3\n\t2\n", 2, "malformed", "expected 'word<TAB>count'"),
    ("a\t3\nb\t2\na\t1\n", 3, "duplicate", "word 'a' repeats line 1"),
])
def test_load_names_the_bad_line(tmp_path, text, line, reason, says):
    """The one line a user reads: file:line, what is wrong, how to fix it; never skippable."""
    path = tmp_path / "vocab.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        Vocabulary.load(path)
    error = caught.value
    assert error.line == line and error.path == str(path)
    assert error.reason == reason and error.record_level is False
    assert str(error).startswith(f"{path}:{line}: {says}")
    if reason == "malformed":
        assert str(error).endswith(". Rebuild the vocabulary with the prepare stage")


def test_load_missing_file(tmp_path):
    path = tmp_path / "absent.tsv"
    with pytest.raises(DataError) as caught:
        Vocabulary.load(path)
    error = caught.value
    assert str(error) == f"{path}: vocabulary file not found. Run the prepare stage first"
    assert error.reason == "missing_file" and error.record_level is False


def test_load_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "vocab.tsv"
    path.write_bytes("caf\u00e9\t3\n".encode("latin-1"))
    with pytest.raises(DataError) as caught:
        Vocabulary.load(path)
    error = caught.value
    assert str(error).startswith(f"{path}: not UTF-8 (")
    assert error.reason == "not_utf8" and error.record_level is False


def test_load_reads_utf8_words(tmp_path):
    path = tmp_path / "vocab.tsv"
    path.write_bytes("\u5317\u4eac\t5\ncaf\u00e9\t3\n".encode("utf-8"))
    assert Vocabulary.load(path).words == ("\u5317\u4eac", "caf\u00e9")
