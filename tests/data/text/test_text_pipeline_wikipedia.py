"""The whole text side of the prepare stage on English Wikipedia (skipped without the dataset).

tokenise -> vocabulary -> word2vec -> k-NN graph -> count signals, with the default config.
The time it takes is printed, not asserted: a shared machine makes timings flaky.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from finelabel.config import GraphConfig, TextConfig
from finelabel.data.layout.texts import read_text
from finelabel.data.text.signals import count_vector, signals_to_csr
from finelabel.data.text.tokenize import get_tokenizer
from finelabel.data.text.vocabulary import Vocabulary
from finelabel.data.text.word_graph import graph_stats, knn_graph
from finelabel.data.text.word_vectors import train_word2vec

pytestmark = pytest.mark.wikipedia


@pytest.fixture(scope="module")
def train_texts(wikipedia_en_root: Path) -> list[str]:
    layout = wikipedia_en_root / "wikipedia_dataset"
    lines = (layout / "trainset_txt_img_cat.list").read_text(encoding="utf-8").splitlines()
    ids = [line.split("\t")[0] for line in lines if line.strip()]
    return [read_text(layout / "texts" / f"{text_id}.xml") for text_id in ids]


def test_text_pipeline_on_english_wikipedia(train_texts):
    text, graph = TextConfig(), GraphConfig()
    start = time.perf_counter()
    tokenizer = get_tokenizer("en", stopwords=text.stopwords, lemmatize=text.lemmatize)
    token_lists = [tokenizer(t) for t in train_texts]
    vocab = Vocabulary.from_corpus(token_lists, text.min_freq)
    vectors = train_word2vec(token_lists, vocab, dim=graph.dim, window=graph.window,
                             epochs=graph.epochs, seed=graph.seed)
    edge_index = knn_graph(vectors, k=graph.k)
    seconds = time.perf_counter() - start
    stats = graph_stats(edge_index, len(vocab))
    print(f"\n{len(train_texts)} texts, {sum(map(len, token_lists))} tokens, |V| = {len(vocab)}, "
          f"graph {stats}, {seconds:.1f} s")

    assert len(train_texts) == 2173
    assert 5_000 <= len(vocab) <= 12_000
    assert min(vocab.counts) > text.min_freq
    assert vectors.shape == (len(vocab), graph.dim) and np.isfinite(vectors).all()
    assert stats["symmetric"] and stats["min_degree"] >= graph.k

    pairs = [count_vector(tokens, vocab) for tokens in token_lists]
    signals = signals_to_csr([p[0] for p in pairs], [p[1] for p in pairs], len(vocab))
    assert signals.shape == (2173, len(vocab))
    assert (np.diff(signals.indptr) > 0).all()  # every text has in-vocabulary words
