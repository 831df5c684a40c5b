"""Ray Data batch functions of the prepare stage: read + tokenise texts, then build item rows.

Plain functions over pandas batches, so that Ray ships them to workers; a damaged record never
raises inside a worker but comes back as an ``error``/``reason`` pair that the driver's
:class:`~finelabel.errors.ErrorPolicy` turns into a stop or a counted skip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from finelabel.data.layout.lists import text_file
from finelabel.data.layout.records import SKIP_HINT, PairRecord, listed_at
from finelabel.data.layout.texts import read_text
from finelabel.data.text.signals import count_vector
from finelabel.errors import DataError
from finelabel.stages.item_assignment import ItemAssignment
from finelabel.storage.mirror import SourceMirror


def record_of(row: Mapping) -> PairRecord:
    """The list line a row of the prepare stage's records table came from."""
    return PairRecord(text_id=str(row["text_id"]), image_id=str(row["image_id"]),
                      label=int(row["label"]), split=str(row["split"]),
                      list_path=str(row["list_path"]), line_no=int(row["line_no"]),
                      row=int(row["row"]))


def _tokenize_one(layout_dir: str, record: PairRecord, tokenizer: Callable[[str], list[str]]):
    path = text_file(layout_dir, record.text_id, record=record)
    words = tokenizer(read_text(path, record))
    if not words:
        raise DataError(f"the text has no words after tokenising{listed_at(record)}", path=path,
                        reason="empty_text", hint=f"Fix the text, {SKIP_HINT}")
    return str(path), words


def tokenize_batch(batch: pd.DataFrame, *, tokenizer, layout_dir: str,
                   mirror: SourceMirror | None = None) -> pd.DataFrame:
    """Add ``text_path``, ``tokens``, ``error`` and ``reason`` columns; with a ``mirror``, the
    texts are read from this node's copy of the driver's ``layout_dir``."""
    paths, tokens, errors, reasons = [], [], [], []
    layout = str(mirror.here(layout_dir)) if mirror else layout_dir
    for row in batch.to_dict("records"):
        try:
            path, words = _tokenize_one(layout, record_of(row), tokenizer)
            path = mirror.there(path) if mirror else path
            error = reason = ""
        except DataError as exc:
            path, words, error, reason = "", [], str(exc), exc.reason
        paths.append(path)
        tokens.append(words)
        errors.append(error)
        reasons.append(reason)
    return batch.assign(text_path=paths, tokens=tokens, error=errors, reason=reasons)


def items_batch(batch: pd.DataFrame, *, vocab_index: Mapping[str, int],
                assignment: ItemAssignment) -> pa.Table:
    """Turn the kept records into item rows: ``item_id``, ``split`` and sparse word counts.

    Returns Arrow with explicit ``list<...>`` columns, so the Parquet schema is plain lists
    rather than Ray's tensor extension types.
    """
    kept, ids, splits = assignment.lookup(batch["rid"].to_numpy())
    batch = batch[kept]  # skipped records have no item
    word_idx, word_count = [], []
    for tokens in batch["tokens"]:
        indices, counts = count_vector(list(tokens), vocab_index)
        word_idx.append(np.asarray(indices, dtype=np.int32))
        word_count.append(np.asarray(counts, dtype=np.float32))
    features = [np.asarray(f, dtype=np.float32) for f in batch["image_feature"]]
    return pa.table({
        "item_id": pa.array(ids, pa.int64()),
        "text_id": pa.array(batch["text_id"].astype(str)),
        "image_id": pa.array(batch["image_id"].astype(str)),
        "label": pa.array(batch["label"].to_numpy(), pa.int32()),
        "split": pa.array(splits, pa.string()),
        "word_idx": pa.array(word_idx, pa.list_(pa.int32())),
        "word_count": pa.array(word_count, pa.list_(pa.float32())),
        "image_feature": pa.array(features, pa.list_(pa.float32())),
        "image_path": pa.array(batch["image_path"].astype(str)),
    })
