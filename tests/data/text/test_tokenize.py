"""Tokenisers: English and Chinese tokens, stop words, lemmatising, picklability."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import pytest

from finelabel.data.text.stopwords import CHINESE_STOPWORDS, ENGLISH_STOPWORDS
from finelabel.data.text.tokenize import (
    ChineseTokenizer,
    EnglishTokenizer,
    get_tokenizer,
    lemmatize_word,
)
from finelabel.errors import ConfigError, DataError
from tests.paths import REPO


def test_english_lowercases_and_drops_stopwords_numbers_and_single_letters():
    tokens = get_tokenizer("en")("The Army of 12,000 men marched in 1943 to a B-52 base, x and y.")
    assert tokens == ["army", "men", "marched", "base"]


def test_english_keeps_inner_apostrophes_drops_possessive_and_splits_hyphens():
    tokens = get_tokenizer("en")("O\u2019Brien's so-called 'quoted' ''Wiki'' 19th mp3 café")
    assert tokens == ["o'brien", "called", "quoted", "wiki", "café"]


def test_english_punctuation_only_gives_no_tokens():
    assert get_tokenizer("en")("... !!! -- 42 % & ;") == []


@pytest.mark.parametrize(("word", "lemma"), [
    ("studies", "study"), ("churches", "church"), ("classes", "class"), ("boxes", "box"),
    ("cities", "city"), ("stopped", "stop"), ("running", "run"), ("carried", "carry"),
    ("filled", "fill"), ("making", "make"), ("make", "make"), ("including", "includ"),
    ("include", "includ"), ("analysis", "analysis"), ("virus", "virus"), ("thing", "thing"),
    ("species", "species"), ("bus", "bus"), ("o'brien", "o'brien"),
])
def test_lemmatize_word(word, lemma):
    assert lemmatize_word(word) == lemma


def test_lemmatize_on_and_off():
    text = "Churches were studied by historians of cities"
    assert get_tokenizer("en")(text) == ["churches", "studied", "historians", "cities"]
    assert get_tokenizer("en", lemmatize=True)(text) == ["church", "study", "historian", "city"]


def test_lemmas_that_become_stop_words_are_dropped():
    tokenizer = EnglishTokenizer(stopwords=frozenset({"church"}), lemmatize=True)
    assert tokenizer("churches museums") == ["museum"]


def test_stopword_file_replaces_builtin_list(tmp_path):
    path = tmp_path / "stop.txt"
    path.write_text("# my list\nArmy\n\nmarched\n", encoding="utf-8")
    tokens = get_tokenizer("en", stopwords=str(path))("The army marched")
    assert tokens == ["the"]


def test_missing_stopword_file_is_a_clear_data_error(tmp_path):
    with pytest.raises(DataError, match="stop-word file not found") as caught:
        get_tokenizer("en", stopwords=str(tmp_path / "nope.txt"))
    assert caught.value.path == str(tmp_path / "nope.txt")


def test_non_utf8_stopword_file_is_a_data_error(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        get_tokenizer("en", stopwords=str(path))


def test_unknown_language_lists_the_choices():
    with pytest.raises(ConfigError, match="en, zh"):
        get_tokenizer("fr")


def test_chinese_segments_and_drops_punctuation_numbers_and_stopwords():
    tokens = get_tokenizer("zh")("我爱北京天安门，2019年的 GPU 加速！ x 3.5%")
    assert tokens == ["爱", "北京", "天安门", "年", "gpu", "加速"]
    assert not set(tokens) & CHINESE_STOPWORDS


def test_chinese_is_deterministic_and_lowercases_latin():
    text = "深度学习（Deep Learning）是机器学习的分支。"
    first = get_tokenizer("zh")(text)
    assert first == get_tokenizer("zh")(text)
    assert "deep" in first and "learning" in first and "。" not in first


def test_chinese_rejects_lemmatize():
    with pytest.raises(ConfigError, match="English only"):
        get_tokenizer("zh", lemmatize=True)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_tokenizers_pickle_and_keep_working(lang):
    tokenizer = get_tokenizer(lang, lemmatize=lang == "en")
    copy = pickle.loads(pickle.dumps(tokenizer))
    assert copy == tokenizer
    assert copy("Museums 博物馆") == tokenizer("Museums 博物馆")


def test_builtin_lists_are_frozensets():
    assert isinstance(ENGLISH_STOPWORDS, frozenset) and "the" in ENGLISH_STOPWORDS
    assert ChineseTokenizer().stopwords is CHINESE_STOPWORDS and "，" in CHINESE_STOPWORDS


def test_import_is_free_of_side_effects_and_jieba_loads_quietly(tmp_path):
    script = (
        "import sys\n"
        "import finelabel.data.text.tokenize as t\n"
        "assert 'jieba' not in sys.modules and 'gensim' not in sys.modules\n"
        "print(t.get_tokenizer('zh')('北京大学'))\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # no jieba cache yet: the chatty path
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=REPO, check=True)
    assert done.stderr == "" and "北京大学" in done.stdout
