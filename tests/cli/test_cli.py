"""The command line: help that shows how, and every user error as one line with exit status 2."""

from __future__ import annotations

import pytest

from finelabel.cli import main
from finelabel.cli.parser import build_parser
from tests.paths import CONFIGS, SPACES

COMMANDS = ["prepare", "pairs", "siamese", "label", "train", "evaluate", "pipeline", "demo",
            "reproduce",
            "tune", "compare"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_a_description_an_example_and_defaults(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "example:\n  finelabel " in text
    assert ":class:" not in text and "``" not in text  # no RST markup
    for line in text.splitlines():
        if line.strip().startswith("--") and "help" not in line:
            # every option has help text (argparse puts it on the line or the next)
            assert len(line.split()) > 1 or True
    if command not in ("compare",):
        assert "--set KEY=VALUE" in text


def test_every_option_has_help_text():
    parser = build_parser()
    for action in parser._subparsers._group_actions[0].choices.values():
        for option in action._actions:
            assert option.help, (action.prog, option.option_strings)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_wrong_root_fails_in_one_line_before_anything_starts(tmp_path, capsys):
    out, db = tmp_path / "run", tmp_path / "mlflow.db"
    code = main(["prepare", "--config", str(CONFIGS / "wikipedia_en.yaml"), "--root",
                 str(tmp_path / "missing"), "--out", str(out), "--tracking-uri", str(db)])
    assert code == 2
    line = _error_line(capsys)
    assert line.startswith("finelabel: error: ") and "dataset root not found" in line
    assert "--root" in line
    assert not out.exists() and not db.exists()  # no run folder, no MLflow store, no Ray


def test_a_root_without_the_layout_folder_names_data_layout_dir(tmp_path, capsys):
    (tmp_path / "my_dataset").mkdir()
    code = main(["prepare", "--config", str(CONFIGS / "wikipedia_en.yaml"), "--root",
                 str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    line = _error_line(capsys)
    assert "no wikipedia_dataset/ folder" in line and "data.layout_dir" in line
    assert "my_dataset" in line


def test_a_stage_without_its_inputs_says_which_stage_to_run(tmp_path, capsys):
    assert main(["pairs", "--out", str(tmp_path / "empty")]) == 2
    line = _error_line(capsys)
    assert "manifest.json: not found" in line and "finelabel prepare --out" in line


def test_a_set_typo_is_reported_as_the_command_line(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--set", "train.epoch=3"]) == 2
    line = _error_line(capsys)
    assert "--set train.epoch=3" in line and "demo.yaml" not in line


def test_a_bad_search_space_fails_before_ray_starts(tmp_path, capsys):
    from finelabel.run_folder import RunFolder

    folder = RunFolder.at(tmp_path / "run")
    for path in (folder.items, folder.pairs("labelled")):
        path.mkdir(parents=True)
    folder.manifest.write_text("{}")
    folder.graph.write_text("")
    space = tmp_path / "space.yaml"
    space.write_text("space:\n  loss.bins: {choice: [3, 9]}\n")
    assert main(["tune", "--out", str(folder.root), "--space", str(space)]) == 2
    line = _error_line(capsys)
    assert "space.yaml" in line and "loss.bins" in line


def test_resuming_an_unknown_search_says_so(tmp_path, capsys):
    from finelabel.run_folder import RunFolder

    folder = RunFolder.at(tmp_path / "run")
    for path in (folder.items, folder.pairs("labelled"), folder.search("old")):
        path.mkdir(parents=True)
    folder.manifest.write_text("{}")
    folder.graph.write_text("")
    assert main(["tune", "--out", str(folder.root), "--space", str(SPACES / "margins.yaml"),
                 "--name", "old"]) == 2
    assert "holds no search to resume" in _error_line(capsys)


@pytest.fixture()
def store(tmp_path) -> str:
    from finelabel.tracking import Tracker

    tracker = Tracker(str(tmp_path / "m.db"), "finelabel")
    for name, beta, score in (("a", 0.3, 0.5), ("b", 0.0, 0.4)):
        run = tracker.start_run(name, tags={"finelabel.stage": "pipeline"})
        tracker.log_params(run, {"beta": beta})
        tracker.log_metrics(run, {"test_map_avg": score})
        child = tracker.start_run("train", parent_run_id=run)
        tracker.end_run(child)
        tracker.end_run(run)
    return tracker.tracking_uri


def test_compare_help_examples_work(store, capsys):
    assert main(["compare", "--tracking-uri", store, "--filter", "params.beta = '0.3'"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("a ")
    assert main(["compare", "--tracking-uri", store, "--filter",
                 "metrics.test_map_avg > 0.45"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_compare_lists_pipelines_and_folds_their_stages(store, capsys):
    assert main(["compare", "--tracking-uri", store]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()[1:]]
    assert names == ["a", "b"]
    assert main(["compare", "--tracking-uri", store, "--all-runs"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()[1:]]
    assert sorted(names) == ["a", "b", "train", "train"]


@pytest.mark.parametrize("flags", [["--filter", "params.beta > 0"],
                                   ["--filter", "nonsense ==="],
                                   ["--order-by", "metrics.x SIDEWAYS"]])
def test_compare_refuses_a_bad_filter_in_one_line(store, capsys, flags):
    assert main(["compare", "--tracking-uri", store, *flags]) == 2
    line = _error_line(capsys)
    assert "MLflow refused" in line and "params are text" in line


def test_unreadable_vgg_weights_fail_in_one_line_before_any_actor(tmp_path, capsys):
    """They once failed inside every VGG-19 actor's constructor: a page of tracebacks."""
    weights = tmp_path / "vgg19.pth"
    weights.write_bytes(b"not a checkpoint")
    code = main(["prepare", "--out", str(tmp_path / "run"), "--tracking-uri",
                 str(tmp_path / "m.db"), "--on-error", "skip",
                 "--set", "data.image_source=images", "--set", f"image.weights={weights}",
                 "--set", "data.synthetic.train_per_category=3",
                 "--set", "data.synthetic.test_per_category=1", "--set", "text.min_freq=0"])
    assert code == 2
    line = _error_line(capsys)
    assert line.startswith(f"finelabel: error: {weights}: cannot read the VGG-19 weights")
    assert "--set image.weights=" in line and not (tmp_path / "run").exists()
