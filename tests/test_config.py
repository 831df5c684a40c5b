"""Typed config: YAML and --set overrides validated, errors that say where the value came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from finelabel.config import Config, apply_overrides, build, load_config, parse_override
from finelabel.errors import ConfigError
from tests.paths import CONFIGS


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_build_and_validate():
    config = load_config(None)
    assert isinstance(config, Config) and config.recipe == "finelabel"
    assert config.model.score == "label" and config.train.pairing == "in_batch"


def test_the_paper_recipe_is_the_dataclass_defaults():
    assert load_config(None, ["recipe=paper"]) == build(Config, {})
    assert build(Config, {}).model.score == "head" and build(Config, {}).train.epochs == 50


def test_a_file_value_wins_over_its_recipe(tmp_path):
    config = load_config(_yaml(tmp_path, "recipe: finelabel\ntrain:\n  epochs: 7\n"))
    assert config.train.epochs == 7 and config.train.pairing == "in_batch"
    with pytest.raises(ConfigError, match="unknown recipe 'fancy'; choose one of: finelabel, "
                                          "paper"):
        load_config(_yaml(tmp_path, "recipe: fancy\n"))


@pytest.mark.parametrize("name", ["demo.yaml", "wikipedia_en.yaml"])
def test_shipped_configs_load(name):
    load_config(CONFIGS / name)


def test_an_unknown_yaml_key_names_the_file_and_suggests(tmp_path):
    path = _yaml(tmp_path, "train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: config\.train: unknown key 'epoch' "
                                          r"\(did you mean 'epochs'\?\)"):
        load_config(path)


def test_an_unknown_set_key_names_the_set_not_the_file():
    with pytest.raises(ConfigError) as caught:
        load_config(CONFIGS / "demo.yaml", ["train.epoch=3"])
    message = str(caught.value)
    assert message.startswith("--set train.epoch=3: config.train: unknown key 'epoch'")
    assert "demo.yaml" not in message and "did you mean 'epochs'" in message


def test_a_set_may_mend_what_the_file_lacks(tmp_path):
    path = _yaml(tmp_path, "data:\n  dataset: wikipedia\n")
    with pytest.raises(ConfigError, match="c.yaml: .*data.root is required"):
        load_config(path)
    assert load_config(path, ["data.root=/somewhere"]).data.root == "/somewhere"


def test_a_bad_value_from_a_set_names_the_set(tmp_path):
    with pytest.raises(ConfigError, match=r"--set train.lr=-1: .*train.lr must be > 0"):
        load_config(None, ["train.epochs=2", "train.lr=-1"])


@pytest.mark.parametrize("override, message", [
    ("train.epochs", "--set expects key=value"),
    ("=3", "--set expects key=value"),
    ("train.epochs=three", "expected an integer"),
    ("loss.beta=-0.1", "loss.beta must be >= 0"),
    ("model.dropout=1.0", r"model.dropout must be in \[0, 1\)"),
    ("train.use_gpu=maybe", "expected true/false"),
    ("data.lang=fr", "data.lang must be one of en, zh"),
    ("model.image_norm=zscore", "model.image_norm must be one of standardize, l2, none"),
    ("train=3", "expected a mapping"),
    ("model.text_signal=bm25", "model.text_signal must be one of counts, log1p, tfidf, l2"),
    ("model.score=dot", "model.score must be one of head, cosine, label"),
    ("train.pairing=all", "train.pairing must be one of sampled, in_batch"),
    ("train.patience=-1", "train.patience must be >= 0"),
    ("train.weight_decay=-0.0001", "train.weight_decay must be >= 0"),
    ("loss.label_weight=-1", "loss.label_weight must be >= 0"),
    ("model.image_dropout=1", r"model.image_dropout must be in \[0, 1\)"),
])
def test_malformed_and_out_of_range_overrides_fail(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_a_set_through_a_value_is_refused():
    with pytest.raises(ConfigError, match="'epochs' is not a section"):
        apply_overrides({"train": {"epochs": 3}}, ["train.epochs.x=1"])


def test_override_values_are_read_as_yaml():
    assert parse_override("loss.beta=0.25") == (["loss", "beta"], 0.25)
    assert parse_override("train.use_gpu=true") == (["train", "use_gpu"], True)
    assert parse_override("tracking.tracking_uri=") == (["tracking", "tracking_uri"], None)


def test_a_missing_or_malformed_or_non_mapping_file_fails(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_yaml(tmp_path, "train: [1, 2\n"))
    with pytest.raises(ConfigError, match="the top level must be a mapping"):
        load_config(_yaml(tmp_path, "- train\n"))


def test_setting_one_siamese_key_keeps_the_siamese_defaults():
    """--set siamese.lr=... once silently gave the dual model's 50 epochs."""
    config = load_config(None, ["recipe=paper", "siamese.lr=0.001"])
    assert config.siamese.epochs == 10 and config.siamese.lr == 0.001
    assert config.train.epochs == 50


def test_root_overrides_the_file(tmp_path):
    config = load_config(CONFIGS / "wikipedia_en.yaml", root=str(tmp_path))
    assert config.data.root == str(tmp_path)


def test_build_round_trips_a_config():
    config = load_config(None, ["loss.beta=0.2", "train.epochs=3"])
    assert build(Config, config.to_dict()) == config


# --- unknown keys at every depth, from a file and from --set ---


@pytest.mark.parametrize("text, where, key, suggestion", [
    ("trian:\n  epochs: 3\n", "config", "trian", "train"),
    ("data:\n  synthetic:\n    categores: 3\n", "config.data.synthetic", "categores",
     "categories"),
    ("model:\n  embed_dims: 8\n", "config.model", "embed_dims", "embed_dim"),
], ids=["section", "nested", "field"])
def test_an_unknown_key_at_any_depth_suggests_the_closest(tmp_path, text, where, key,
                                                          suggestion):
    path = _yaml(tmp_path, text)
    expected = f"{where}: unknown key '{key}' (did you mean '{suggestion}'?)"
    with pytest.raises(ConfigError) as from_file:
        load_config(path)
    assert str(from_file.value) == f"{path}: {expected}"
    dotted = f"{where.removeprefix('config').lstrip('.')}.{key}".lstrip(".")
    with pytest.raises(ConfigError) as from_set:
        load_config(None, [f"{dotted}=3"])
    assert str(from_set.value) == f"--set {dotted}=3: {expected}"


def test_an_unknown_key_with_no_close_name_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(_yaml(tmp_path, "eval:\n  xyzzy: 1\n"))
    assert str(caught.value).endswith(
        "config.eval: unknown key 'xyzzy' (valid: top_k, max_queries)")


# --- malformed values, from a file and from --set ---


@pytest.mark.parametrize("override, message", [
    ("train.epochs=", "config.train.epochs: must not be null"),
    ("train.lr=fast", "config.train.lr: expected a number, got 'fast'"),
    ("data.lang=[en]", r"config.data.lang: expected a string, got \['en'\]"),
    ("train.use_gpu=1", "config.train.use_gpu: expected true/false, got 1"),
    ("train.epochs=2.5", "config.train.epochs: expected an integer, got 2.5"),
])
def test_a_value_of_the_wrong_type_names_its_key(override, message):
    with pytest.raises(ConfigError, match=rf"^--set {re.escape(override)}: {message}$"):
        load_config(None, [override])


def test_a_bad_file_value_names_the_file_and_the_key(tmp_path):
    path = _yaml(tmp_path, "train:\n  lr: 0\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: config.train: train.lr must be > 0"
    path = _yaml(tmp_path, "train: 3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: config.train: expected a mapping, got 3"


# --- every range check, just outside its bound (fails) and on it (passes) ---

RANGES = [  # (first value outside, the message, the value on the bound)
    ("data.val_fraction=0", r"data.val_fraction must be in \(0, 0.5\)", "data.val_fraction=0.01"),
    ("data.val_fraction=0.5", r"data.val_fraction must be in \(0, 0.5\)",
     "data.val_fraction=0.49"),
    ("data.synthetic.categories=1", "categories must be >= 2", "data.synthetic.categories=2"),
    ("data.synthetic.train_per_category=1", "train_per_category must be >= 2",
     "data.synthetic.train_per_category=2"),
    ("data.synthetic.test_per_category=0", "test_per_category must be >= 1",
     "data.synthetic.test_per_category=1"),
    ("data.synthetic.noise=1", r"noise must be in \[0, 1\)", "data.synthetic.noise=0"),
    ("image.image_size=31", "image.image_size must be >= 32", "image.image_size=32"),
    ("image.min_actors=0", "need 1 <= min_actors <= max_actors", "image.min_actors=1"),
    ("image.min_actors=3", "need 1 <= min_actors <= max_actors", "image.min_actors=2"),
    ("text.min_freq=-1", "text.min_freq must be >= 0", "text.min_freq=0"),
    ("graph.k=0", "graph.k must be >= 1", "graph.k=1"),
    ("graph.dim=1", "graph.dim must be >= 2", "graph.dim=2"),
    ("model.cheb_order=0", "model.cheb_order must be >= 1", "model.cheb_order=1"),
    ("model.filters=0", "model.filters must be >= 1", "model.filters=1"),
    ("model.embed_dim=0", "model.embed_dim must be >= 1", "model.embed_dim=1"),
    ("model.dropout=-0.1", r"model.dropout must be in \[0, 1\)", "model.dropout=0"),
    ("pairs.n_pairs=1", "pairs: counts must be >= 2", "pairs.n_pairs=2"),
    ("pairs.siamese_pairs=1", "pairs: counts must be >= 2", "pairs.siamese_pairs=2"),
    ("loss.beta=-0.1", "loss.beta must be >= 0", "loss.beta=0"),
    ("loss.lam=-0.1", "loss.lam must be >= 0", "loss.lam=0"),
    ("loss.bins=0", "loss.bins must be >= 1", "loss.bins=1"),
    ("train.lr=0", "train.lr must be > 0", "train.lr=0.000001"),
    ("train.lr_decay=0", r"train.lr_decay must be in \(0, 1\]", "train.lr_decay=1"),
    ("train.lr_decay=1.01", r"train.lr_decay must be in \(0, 1\]", "train.lr_decay=0.01"),
    ("train.batch_size=1", "train.batch_size must be >= 2", "train.batch_size=2"),
    ("train.epochs=0", "train.epochs must be >= 1", "train.epochs=1"),
    ("train.num_workers=-1", "train.num_workers must be >= 0", "train.num_workers=0"),
    ("train.patience=-1", "train.patience must be >= 0", "train.patience=0"),
    ("siamese.epochs=0", "config.siamese: .*epochs must be >= 1", "siamese.epochs=1"),
    ("label.min_actors=0", "need 1 <= min_actors <= max_actors", "label.min_actors=1"),
    ("label.min_actors=3", "need 1 <= min_actors <= max_actors", "label.min_actors=2"),
    ("label.folds=0", "label.folds must be >= 1", "label.folds=1"),
    ("label.batch_size=0", "label.batch_size must be >= 1", "label.batch_size=1"),
    ("label.in_process_texts=-1", "label.in_process_texts must be >= 0",
     "label.in_process_texts=0"),
    ("label.in_process_pairs=-1", "label.in_process_pairs must be >= 0",
     "label.in_process_pairs=0"),
    ("eval.top_k=0", "eval.top_k must be >= 1", "eval.top_k=1"),
]


@pytest.mark.parametrize("outside, message, on_bound", RANGES, ids=[r[0] for r in RANGES])
def test_each_range_check_fails_outside_and_passes_on_its_bound(outside, message, on_bound):
    with pytest.raises(ConfigError, match=rf"^--set {re.escape(outside)}: .*{message}"):
        load_config(None, [outside])
    key, value = on_bound.split("=")
    section, _, name = key.rpartition(".")
    config = load_config(None, [on_bound])
    for part in section.split("."):
        config = getattr(config, part)
    assert getattr(config, name) == yaml.safe_load(value)


# --- the dataset root, and files that are not configs ---


def test_a_missing_root_is_asked_for_and_root_supplies_it(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set data.dataset=wikipedia: .*data.root is "
                                          r"required for data.dataset=wikipedia \(pass --root"):
        load_config(None, ["data.dataset=wikipedia"])
    with pytest.raises(ConfigError, match="data.root is required"):
        load_config(_yaml(tmp_path, "data:\n  dataset: wikipedia\n  root: ''\n"))
    config = load_config(None, ["data.dataset=wikipedia"], root=str(tmp_path))
    assert config.data.root == str(tmp_path)


def test_an_empty_file_is_the_defaults_and_a_scalar_one_is_refused(tmp_path):
    assert load_config(_yaml(tmp_path, "")) == load_config(None)
    path = _yaml(tmp_path, "just some words\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: the top level must be a mapping of sections"
    with pytest.raises(ConfigError, match=f"^{re.escape(str(tmp_path / 'dir'))}: config file "
                                          "not found$"):
        (tmp_path / "dir").mkdir()
        load_config(tmp_path / "dir")


def test_an_empty_section_keeps_the_recipe(tmp_path):
    """``train:`` with every key commented out is null; it once replaced the recipe's section,
    so the run silently trained with the paper's lr, pairing and epochs."""
    assert load_config(_yaml(tmp_path, "train:\n")) == load_config(None)


def test_a_number_in_e_notation_is_a_number(tmp_path):
    """PyYAML reads 1e-4 (no dot) as text; a number field takes it as the number it is."""
    assert load_config(None, ["train.lr=1e-4"]).train.lr == 1e-4
    assert load_config(_yaml(tmp_path, "train:\n  lr: 3e-4\n")).train.lr == 3e-4
    with pytest.raises(ConfigError, match="expected a number, got 'fast'"):
        load_config(None, ["train.lr=fast"])


def test_a_siamese_range_error_names_the_siamese_section():
    with pytest.raises(ConfigError, match=r"siamese\.epochs must be >= 1"):
        load_config(None, ["siamese.epochs=0"])
