"""The prepare stage: a dataset in the Wikipedia layout -> Parquet items, word graph, manifest.

Runs on Ray Data: texts are read and tokenised by Ray tasks, JPEG features by an actor pool (one
VGG-19 load per actor, GPU where present). The driver holds only small columns: it applies the
error policy, carves the validation split, builds the vocabulary and the word graph.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from finelabel import __version__
from finelabel.config import Config, public_dict, save_config
from finelabel.data.layout.feature_matrix import check_rows, load_feature_matrix
from finelabel.data.layout.lists import (
    CATEGORIES_FILE,
    count_data_lines,
    image_file,
    list_file,
    read_layout,
)
from finelabel.data.layout.records import PairRecord
from finelabel.data.manifest import hash_inputs, write_manifest
from finelabel.data.splits import carve_validation
from finelabel.data.text.tokenize import get_tokenizer
from finelabel.data.text.vocabulary import Vocabulary
from finelabel.data.text.word_graph import graph_stats, knn_graph, save_graph
from finelabel.data.text.word_vectors import make_word_vectors
from finelabel.errors import DataError, ErrorPolicy
from finelabel.run_folder import RunFolder, replacing
from finelabel.stages.checks import check_dataset, dataset_root
from finelabel.stages.item_assignment import ItemAssignment
from finelabel.stages.prepare_batches import items_batch, tokenize_batch
from finelabel.storage.datasets import write_parquet
from finelabel.storage.mirror import SourceMirror

log = logging.getLogger(__name__)

#: Records per Ray Data block: what one tokenising or item-writing task takes on.
RECORDS_PER_BLOCK = 4096


@dataclass
class SourceData:
    """What was read in the driver: categories, kept records and the list files."""

    root: Path
    layout_dir: Path
    categories: list[str]
    records: list[PairRecord]
    lists: list[Path]


def source_root(config: Config, folder: RunFolder) -> Path:
    """The dataset root; the synthetic dataset is generated into the run folder."""
    root = dataset_root(config)
    if root is not None:
        return root
    from finelabel.data.synthetic.dataset import write_synthetic_dataset

    write_synthetic_dataset(folder.source, config.data.synthetic, lang=config.data.lang,
                            images=config.data.image_source == "images", features=True)
    folder.publish(folder.source)  # prepare's tasks on other nodes read it from the bucket
    return folder.source


def source_mirror(folder: RunFolder, source: SourceData) -> SourceMirror | None:
    """How tasks on other nodes reach a dataset inside a remote run folder (None: by path)."""
    if folder.remote is None or not source.root.is_relative_to(folder.root):
        return None
    return SourceMirror(folder.location_of(source.root), str(source.root))


def read_source(config: Config, folder: RunFolder, policy: ErrorPolicy) -> SourceData:
    check_dataset(config)
    root = source_root(config, folder)
    layout_dir = config.data.layout_path(root)
    categories, records = read_layout(layout_dir, policy)
    lists = [layout_dir / CATEGORIES_FILE, *(list_file(layout_dir, s) for s in ("train", "test"))]
    return SourceData(root, layout_dir, categories, records, lists)


def features_path(config: Config, source: SourceData) -> Path:
    return source.root / config.data.features_file


def matrix_features(config: Config, source: SourceData) -> np.ndarray:
    """(len(records), D) rows of the feature matrices, checked against the list files."""
    path = features_path(config, source)
    keys = {"train": config.data.train_features_key, "test": config.data.test_features_key}
    matrices = {}
    for split, key in keys.items():
        matrix = load_feature_matrix(path, key)
        check_rows(matrix, count_data_lines(list_file(source.layout_dir, split)), path, key)
        matrices[split] = matrix
    return np.stack([matrices[r.split][r.row] for r in source.records]).astype(np.float32)


def records_table(source: SourceData, features: np.ndarray | None) -> pa.Table:
    """One row per record, with its record id ``rid`` and, if known, its image feature."""
    frame = pd.DataFrame({
        "rid": np.arange(len(source.records), dtype=np.int64),
        "text_id": [r.text_id for r in source.records],
        "image_id": [r.image_id for r in source.records],
        "label": np.array([r.label for r in source.records], dtype=np.int32),
        "split": [r.split for r in source.records],
        "list_path": [r.list_path for r in source.records],
        "line_no": np.array([r.line_no for r in source.records], dtype=np.int64),
        "row": np.array([r.row for r in source.records], dtype=np.int64),
        "image_path": [""] * len(source.records),
    })
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if features is not None:
        offsets = pa.array(np.arange(0, features.size + 1, features.shape[1], dtype=np.int32))
        column = pa.ListArray.from_arrays(offsets, pa.array(features.reshape(-1)))  # (n, D)
        table = table.append_column("image_feature", column)
    return table


def record_blocks(table: pa.Table, rows: int | None = None) -> list[pa.Table]:
    """The records cut into blocks of ``rows`` (default :data:`RECORDS_PER_BLOCK`): one table
    is one Ray Data block, so tokenising and writing every item would run as a single task on
    one CPU however large the cluster."""
    rows = rows or RECORDS_PER_BLOCK
    return [table.slice(start, rows) for start in range(0, len(table), rows)] or [table]


def attach_image_paths(source: SourceData, table: pa.Table, policy: ErrorPolicy) -> pa.Table:
    """Fill ``image_path``; a record whose JPEG is missing goes through the error policy."""
    paths, found = [], []
    for record in source.records:
        try:
            path = image_file(source.layout_dir, source.categories[record.label], record.image_id,
                              record=record)
        except DataError as error:
            policy.handle(error)
            path = None
        paths.append(str(path) if path else "")
        found.append(path is not None)
    index = table.schema.get_field_index("image_path")
    table = table.set_column(index, "image_path", pa.array(paths))
    return table.filter(pa.array(found))


def image_pool(config: Config, resources: dict[str, float]) -> dict[str, Any]:
    """The VGG-19 actor pool: one GPU per actor when the cluster has GPUs, else CPUs."""
    import ray.data

    return {"compute": ray.data.ActorPoolStrategy(min_size=config.image.min_actors,
                                                  max_size=config.image.max_actors),
            "batch_size": config.image.batch_size,
            "num_gpus": 1 if resources.get("GPU", 0) > 0 else 0}


def extract_image_features(ds, config: Config, mirror: SourceMirror | None = None):
    """Run VGG-19 fc7 over every JPEG on an actor pool (one model load per actor)."""
    import ray

    from finelabel.data.images.features import VGGFeatureExtractor

    features = ds.map_batches(
        VGGFeatureExtractor,
        fn_constructor_kwargs={"weights": config.image.weights,
                               "image_size": config.image.image_size, "mirror": mirror},
        **image_pool(config, ray.cluster_resources()), batch_format="numpy",
    )
    # Keep the first error of a record: text errors come later, image errors are folded in.
    return features.rename_columns({"error": "image_error", "error_reason": "image_reason"})


def apply_policy(status: pd.DataFrame, policy: ErrorPolicy) -> np.ndarray:
    """Return the sorted record ids that survive; raise or count the damaged ones."""
    keep = []
    for row in status.itertuples(index=False):
        image_error = getattr(row, "image_error", "")
        if image_error or row.error:
            reason = getattr(row, "image_reason", "") if image_error else row.reason
            policy.handle(DataError(image_error or row.error, reason=reason))
        else:
            keep.append(row.rid)
    return np.sort(np.asarray(keep, dtype=np.int64))


def assign_items(status: pd.DataFrame, kept: np.ndarray, config: Config) -> ItemAssignment:
    """Every kept record's item and split: train (minus a stratified validation share), test."""
    rows = status.set_index("rid").loc[kept]
    is_train = (rows["split"] == "train").to_numpy()
    val = carve_validation(rows["label"].to_numpy()[is_train], config.data.val_fraction,
                           config.data.seed)
    splits = np.where(is_train, "train", "test").astype(object)
    splits[np.flatnonzero(is_train)[val]] = "val"
    return ItemAssignment.from_splits(kept, splits)


def build_vocabulary(ds, assignment: ItemAssignment,
                     config: Config) -> tuple[Vocabulary, list]:
    """Vocabulary from the training items only (validation and test never leak into it)."""
    train_set = set(assignment.rids_of("train").tolist())
    # record order, whatever order the blocks came back in: word2vec reads the corpus in order
    frame = ds.select_columns(["rid", "tokens"]).to_pandas().sort_values("rid")
    corpus = [list(t) for rid, t in zip(frame["rid"], frame["tokens"]) if int(rid) in train_set]
    return Vocabulary.from_corpus(corpus, config.text.min_freq), corpus


def word_graph(vocab: Vocabulary, corpus: list, config: Config):
    """Word vectors (trained or read) and the symmetric k-NN graph over them."""
    vectors, missing = make_word_vectors(corpus, vocab, config.graph)
    return knn_graph(vectors, k=config.graph.k), missing


def write_items(ds, assignment: ItemAssignment, vocab: Vocabulary, folder: RunFolder) -> None:
    """Write the item shards; a failure leaves the old ones (if any) in place."""
    items = ds.map_batches(items_batch, batch_format="pandas",
                           fn_kwargs={"vocab_index": vocab.word_to_index,
                                      "assignment": assignment})
    with replacing(folder.items) as tmp:
        write_parquet(items, tmp, folder.location_of(tmp), min_rows_per_file=4096)


def input_files(config: Config, source: SourceData, kept_rows: pd.DataFrame) -> list[str | Path]:
    """Every file the prepared data was made from, to be hashed into the manifest (one text and
    one image per pair: kept as strings, see :func:`hash_inputs`)."""
    inputs: list[str | Path] = list(source.lists)
    if config.data.image_source == "features":
        inputs.append(features_path(config, source))
    if config.graph.vectors != "word2vec":
        inputs.append(Path(config.graph.vectors))
    inputs += [p for p in kept_rows["text_path"] if p]
    inputs += [p for p in kept_rows["image_path"] if p]
    return inputs


def prepare(config: Config, out_dir: str | Path, *, on_error: str = "fail") -> dict[str, Any]:
    """Prepare ``config``'s dataset into the run folder ``out_dir``; return the manifest."""
    import ray

    started = time.perf_counter()
    folder = RunFolder.at(out_dir).create()
    policy = ErrorPolicy(on_error)
    source = read_source(config, folder, policy)
    from_matrix = config.data.image_source == "features"
    features = matrix_features(config, source) if from_matrix else None
    table = records_table(source, features)
    if not from_matrix:
        table = attach_image_paths(source, table, policy)
    ds = ray.data.from_arrow(record_blocks(table))
    mirror = source_mirror(folder, source)
    if not from_matrix:
        ds = extract_image_features(ds, config, mirror)
    tokenizer = get_tokenizer(config.data.lang, stopwords=config.text.stopwords,
                              lemmatize=config.text.lemmatize)
    ds = ds.map_batches(tokenize_batch, batch_format="pandas",
                        fn_kwargs={"tokenizer": tokenizer, "layout_dir": str(source.layout_dir),
                                   "mirror": mirror}).materialize()
    status_columns = ["rid", "label", "split", "error", "reason", "text_path", "image_path"]
    status_columns += [] if from_matrix else ["image_error", "image_reason"]
    status = ds.select_columns(status_columns).to_pandas().sort_values("rid")
    kept = apply_policy(status, policy)
    if len(kept) == 0:
        raise DataError("no usable pairs left", path=source.layout_dir, record_level=False)
    assignment = assign_items(status, kept, config)
    vocab, corpus = build_vocabulary(ds, assignment, config)
    edge_index, missing_vectors = word_graph(vocab, corpus, config)
    write_items(ds, assignment, vocab, folder)
    save_graph(folder.graph, edge_index, len(vocab))
    vocab.save(folder.vocab)
    save_config(config, folder.config)
    kept_rows = status.set_index("rid").loc[kept]
    manifest = {
        "finelabel_version": __version__,
        "dataset": config.data.dataset,
        "lang": config.data.lang,
        "root": str(source.root.resolve()),
        "counts": assignment.counts(),
        "categories": source.categories,
        "vocab_size": len(vocab),
        "image_dim": int(features.shape[1]) if from_matrix else _fc7_dim(),
        "image_source": config.data.image_source,
        "graph": graph_stats(edge_index, len(vocab)),
        "missing_word_vectors": missing_vectors,
        "skipped": policy.summary(),
        "skipped_examples": dict(policy.examples),
        "config": public_dict(config),
        "inputs": hash_inputs(input_files(config, source, kept_rows), source.root),
    }
    manifest["seconds"] = round(time.perf_counter() - started, 2)  # hashing included
    write_manifest(folder.manifest, manifest)
    return manifest


def _fc7_dim() -> int:
    from finelabel.data.images.vgg import FC7_DIM  # torchvision only when JPEGs are used

    return FC7_DIM
