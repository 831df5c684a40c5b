"""Search spaces: the shipped files, their conversion to Ray Tune domains, and bad spaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from finelabel.config import load_config, with_values
from finelabel.errors import ConfigError
from finelabel.report.plots import plot_trial_curves
from finelabel.stages.tune import format_trials, search_params, trial_label
from finelabel.tune.space import check_against, load_search_spec, param_space
from tests.paths import SPACES
from tests.report.figures import capture_figures, pixels_of, read_png


def write_space(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(p.name for p in SPACES.glob("*.yaml")))
def test_shipped_spaces_load_and_fit_the_default_config(name: str) -> None:
    spec = load_search_spec(SPACES / name)
    check_against(spec, load_config(None))
    assert set(param_space(spec)) == set(spec.space)


def test_margins_space_samples_within_its_bounds() -> None:
    spec = load_search_spec(SPACES / "margins.yaml")
    domains = param_space(spec)
    assert set(spec.space) == {"loss.beta", "loss.margin", "loss.lam"}
    for key, dist in spec.space.items():
        (_, (low, high)), = dist.items()
        samples = np.array([domains[key].sample() for _ in range(200)])
        assert samples.min() >= low and samples.max() <= high
        assert samples.std() > 0  # a distribution, not a constant


def test_grid_and_choice_become_tune_domains(tmp_path: Path) -> None:
    from ray.tune.search.sample import Categorical

    spec = load_search_spec(write_space(tmp_path, """
space:
  loss.beta: {grid_search: [0.0, 0.3]}
  model.image_norm: {choice: [standardize, l2]}
"""))
    domains = param_space(spec)
    assert domains["loss.beta"] == {"grid_search": [0.0, 0.3]}
    assert isinstance(domains["model.image_norm"], Categorical)
    assert domains["model.image_norm"].categories == ["standardize", "l2"]


@pytest.mark.parametrize(("text", "message"), [
    ("space:\n  data.lang: {choice: [en, zh]}\n", "only loss, model, train"),
    ("space:\n  loss.bins: {choice: [5, 9]}\n", "label stage bins"),
    ("space:\n  train.epochs: {choice: [5, 9]}\n", "budget"),
    ("space:\n  loss.beta: {normal: [0, 1]}\n", "unknown distribution 'normal'"),
    ("space:\n  loss.beta: {uniform: [0.5, 0.1]}\n", "lower bound"),
    ("space:\n  loss.beta: {uniform: [0.1]}\n", "expected 2 numbers"),
    ("space:\n  loss.lam: {loguniform: [0, 1]}\n", "must be > 0"),
    ("space:\n  loss.beta: 0.3\n", "expected one distribution"),
    ("space: {}\n", "at least one config key"),
    ("space:\n  loss.beta: {uniform: [0.1, 0.5]}\nmode: best\n", "max or min"),
    ("space:\n  loss.beta: {uniform: [0.1, 0.5]}\nnum_sample: 3\n",
     "unknown key 'num_sample' (did you mean 'num_samples'?)"),
    ("space: [\n", "not valid YAML"),
])
def test_bad_spaces_fail_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = write_space(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_search_spec(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_values_a_trial_would_refuse_fail_before_the_search(tmp_path: Path) -> None:
    config = load_config(None)
    misspelt = load_search_spec(write_space(tmp_path, "space:\n  loss.betta: {uniform: [0, 1]}\n"))
    with pytest.raises(ConfigError, match="'loss.betta' is not a config key"):
        check_against(misspelt, config, "space.yaml")
    negative = load_search_spec(write_space(tmp_path, "space:\n  loss.beta: {uniform: [-1, 1]}\n"))
    with pytest.raises(ConfigError, match="loss.beta must be >= 0"):
        check_against(negative, config, "space.yaml")


def test_missing_space_file_says_where_to_look(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such search space file .*tune_spaces"):
        load_search_spec(tmp_path / "nope.yaml")


def test_with_values_sets_dotted_keys_and_validates() -> None:
    config = load_config(None)
    changed = with_values(config, {"loss.beta": 0.45, "train.lr": 0.01})
    assert (changed.loss.beta, changed.train.lr) == (0.45, 0.01)
    assert config.loss.beta == 0.3  # the original is left alone
    assert changed.model == config.model
    with pytest.raises(ConfigError, match="expected an integer"):
        with_values(config, {"train.batch_size": "big"})
    with pytest.raises(ConfigError, match="'loss' is not a config key"):
        with_values(config, {"loss": 1.0})


def test_search_params_name_the_space_and_settings() -> None:
    spec = load_search_spec(SPACES / "margins.yaml")
    params = search_params(spec)
    assert params["space.loss.beta"] == {"uniform": [0.1, 0.5]}
    assert params["search.num_samples"] == spec.num_samples
    assert "search.space" not in params


def test_trials_table_and_legend_labels() -> None:
    summary = {"metric": "val_map_avg", "trials": [
        {"trial_id": "ab_00001", "params": {"loss.beta": 0.1234, "loss.margin": 0.6},
         "epochs": 3, "best_score": 0.7, "status": "DONE"},
        {"trial_id": "ab_00000", "params": {"loss.beta": 0.4, "loss.margin": 1.0},
         "epochs": 1, "best_score": None, "status": "ERROR"}]}
    lines = format_trials(summary).splitlines()
    assert lines[0].split() == ["trial", "loss.beta", "loss.margin", "epochs", "val_map_avg",
                                "status"]
    assert lines[1].split() == ["ab_00001", "0.1234", "0.6000", "3", "0.7000", "DONE"]
    assert lines[2].split()[-2:] == ["None", "ERROR"]
    assert trial_label(summary["trials"][0]) == "00001 beta=0.123 margin=0.6"


def test_trial_curves_plot_is_written(tmp_path: Path, monkeypatch) -> None:
    """One line per trial, metric against epoch, the best one bold and named so in the legend."""
    figures = capture_figures(monkeypatch)
    curves = {"a": (np.array([1, 2, 3]), np.array([0.5, 0.6, 0.55])),
              "b": (np.array([1, 2]), np.array([0.3, 0.35]))}
    path = plot_trial_curves(curves, tmp_path / "t" / "trials.png", metric="val_map_avg", best="a")
    (axes,) = figures[0].axes
    assert [line.get_label() for line in axes.lines] == ["a (best)", "b"]
    for line, (epochs, values) in zip(axes.lines, curves.values()):
        np.testing.assert_array_equal(line.get_xdata(), epochs)
        np.testing.assert_array_equal(line.get_ydata(), values)
    assert [line.get_linewidth() for line in axes.lines] == [2.5, 1]
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("epoch", "val_map_avg")
    image = read_png(path, (6, 4))
    for line in axes.lines:
        assert pixels_of(image, line.get_color(), line.get_alpha()) > 30, line.get_label()
    with pytest.raises(ValueError, match="at least one trial"):
        plot_trial_curves({}, tmp_path / "empty.png", metric="val_map_avg")
