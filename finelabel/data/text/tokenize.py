"""Tokenisers: text -> list of word tokens, per language, chosen by name.

Tokenisers are small frozen dataclasses so they pickle cheaply to Ray Data workers; anything heavy
(jieba's dictionary) is loaded lazily, once per process, on the first call.

English: lower-cased runs of letters; inner apostrophes are kept (``o'brien``, ``don't``) and a
possessive ``'s`` is dropped; hyphens split compounds (``so-called`` -> ``so``, ``called``), so
their parts count towards the vocabulary. Tokens with a digit (``1943``, ``19th``, ``mp3``),
1-character tokens and stop words are dropped.
With ``lemmatize=True`` a light rule-based lemmatiser (:func:`lemmatize_word`, Porter's steps 1a,
1b and 5a) folds plurals, ``-ed``/``-ing`` forms and a final ``e``; nltk is not a dependency.

Chinese (``zh``): jieba segmentation in precise mode (deterministic), then punctuation, whitespace,
numbers and stop words are dropped; Latin words are lower-cased and, like English, must have two
characters or more.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from finelabel.data.text.stopwords import CHINESE_STOPWORDS, ENGLISH_STOPWORDS, read_stopwords
from finelabel.errors import ConfigError
from finelabel.resolver import resolve

# A run of letters and digits, with inner apostrophes; runs with a digit are dropped later.
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_VOWELS = frozenset("aeiou")
# Words that look plural but are not (or are the same in both numbers).
_INVARIANT = frozenset("""
species series news means physics mathematics politics economics ethics athletics
""".split())


class Tokenizer(Protocol):
    """Turns one text into its word tokens."""

    lang: str

    def __call__(self, text: str) -> list[str]: ...


@dataclass(frozen=True)
class EnglishTokenizer:
    """Lower-case word tokens without stop words, optionally lemmatised."""

    stopwords: frozenset[str] = ENGLISH_STOPWORDS
    lemmatize: bool = False
    lang: str = "en"

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for match in _WORD.finditer(text.translate(_APOSTROPHES).lower()):
            word = match.group()
            if word.endswith("'s"):
                word = word[:-2]
            if len(word) < 2 or word in self.stopwords or not word.replace("'", "").isalpha():
                continue
            if self.lemmatize:
                word = lemmatize_word(word)
                if word in self.stopwords:
                    continue
            tokens.append(word)
        return tokens


@dataclass(frozen=True)
class ChineseTokenizer:
    """jieba words (precise mode) without punctuation, numbers or stop words."""

    stopwords: frozenset[str] = CHINESE_STOPWORDS
    lang: str = "zh"

    def __call__(self, text: str) -> list[str]:
        tokens = []
        for word in _jieba().lcut(text, cut_all=False, HMM=True):
            word = word.strip().lower()
            if _keep_chinese_token(word) and word not in self.stopwords:
                tokens.append(word)
        return tokens


def _keep_chinese_token(word: str) -> bool:
    """Keep a token that has a Han character, or is a Latin word of two letters or more."""
    if any(_is_han(char) for char in word):
        return True
    return len(word) >= 2 and any(char.isalpha() for char in word)


def _is_han(char: str) -> bool:
    return unicodedata.name(char, "").startswith("CJK UNIFIED IDEOGRAPH")


@functools.lru_cache(maxsize=1)
def _jieba() -> Any:
    """One jieba tokenizer per process, its dictionary loaded once and without log lines."""
    import jieba  # lazy: importing and initialising jieba is slow and chatty

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _is_vowel(word: str, i: int) -> bool:
    """Porter's vowel: a, e, i, o, u, and y after a consonant."""
    char = word[i]
    return char in _VOWELS or (char == "y" and i > 0 and not _is_vowel(word, i - 1))


def _has_vowel(stem: str) -> bool:
    return any(_is_vowel(stem, i) for i in range(len(stem)))


def _measure(stem: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in ``stem``."""
    pattern = "".join("v" if _is_vowel(stem, i) else "c" for i in range(len(stem)))
    return len(re.findall(r"v+c+", pattern))


def _ends_cvc(stem: str) -> bool:
    """Consonant-vowel-consonant ending, the last not w, x or y (``hop``, not ``show``)."""
    n = len(stem)
    if n < 3 or stem[-1] in "wxy":
        return False
    return not _is_vowel(stem, n - 3) and _is_vowel(stem, n - 2) and not _is_vowel(stem, n - 1)


def _plural(word: str) -> str:
    """Porter step 1a, kept for ``-us``, ``-is``, ``-ss`` words and ``-ies`` -> ``-y``."""
    if word.endswith("sses") or re.search(r"(?:ch|sh|x)es$", word):
        return word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def _verb(word: str) -> str:
    """Porter step 1b: ``-eed``, ``-ed``, ``-ing`` with the spelling repairs that follow."""
    if word.endswith("ied") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("eed"):
        return word[:-1] if _measure(word[:-3]) > 0 else word
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and _has_vowel(stem):
            return _repair(stem)
    return word


def _repair(stem: str) -> str:
    """After cutting -ed/-ing: restore a dropped ``e`` and undo a doubled consonant."""
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if stem[-1] == stem[-2] and not _is_vowel(stem, len(stem) - 1) and stem[-1] not in "lsz":
        return stem[:-1]
    if _measure(stem) == 1 and _ends_cvc(stem):
        return stem + "e"
    return stem


def _final_e(word: str) -> str:
    """Porter step 5a: drop a final ``e`` unless the stem is short and ends like ``mak``."""
    stem = word[:-1]
    if not word.endswith("e") or len(stem) < 3:
        return word
    m = _measure(stem)
    return stem if m > 1 or (m == 1 and not _ends_cvc(stem)) else word


def lemmatize_word(word: str) -> str:
    """Light rule-based lemma: Porter's steps 1a (plurals), 1b (-ed, -ing) and 5a (final e).

    The aim is that inflected forms meet on one node: ``studies``/``study`` -> ``study``,
    ``churches`` -> ``church``, ``stopped`` -> ``stop``, ``making``/``make`` -> ``make``,
    ``including``/``include``/``included`` -> ``includ``. ``analysis``, ``virus``, ``thing``
    stay; words of three letters or fewer are left alone. Without a dictionary (nltk is not a
    dependency) the result is a stem, not always a word, and a few forms conflate wrongly
    (``ceiling`` -> ``ceil``).
    """
    if len(word) <= 3 or "'" in word or word in _INVARIANT:
        return word
    return _final_e(_verb(_plural(word)))


def _english(stopwords: frozenset[str] | None, lemmatize: bool) -> EnglishTokenizer:
    return EnglishTokenizer(stopwords=ENGLISH_STOPWORDS if stopwords is None else stopwords,
                            lemmatize=lemmatize)


def _chinese(stopwords: frozenset[str] | None, lemmatize: bool) -> ChineseTokenizer:
    if lemmatize:
        raise ConfigError("text.lemmatize applies to English only; set it to false for lang zh")
    return ChineseTokenizer(stopwords=CHINESE_STOPWORDS if stopwords is None else stopwords)


TOKENIZERS = {"en": _english, "zh": _chinese}


def get_tokenizer(lang: str, *, stopwords: str = "builtin", lemmatize: bool = False) -> Tokenizer:
    """The tokenizer for ``lang`` (``en`` or ``zh``).

    ``stopwords`` is ``builtin`` (the language's list) or a path to a UTF-8 file with one word
    a line, which replaces the built-in list.
    """
    factory = resolve(lang, TOKENIZERS, "tokenizer language")
    words = None if stopwords == "builtin" else read_stopwords(Path(stopwords))
    return factory(words, lemmatize)
