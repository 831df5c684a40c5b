"""Typed config: YAML and --set overrides validated, errors that say where the value came from."""

from __future__ import annotations

from pathlib import Path

import pytest

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
