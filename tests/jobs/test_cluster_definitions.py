"""The cluster definitions: the pinned Ray, dashboards kept off public interfaces, token auth."""

from __future__ import annotations

import re

import yaml

from tests.paths import REPO

CLUSTER = REPO / "cluster"


def _pinned_ray() -> str:
    text = (REPO / "pyproject.toml").read_text()
    return re.search(r'"ray\[[^\]]*\]==([0-9.]+)"', text).group(1)


def test_every_definition_parses_and_names_the_pinned_ray():
    pinned = _pinned_ray()
    rayjob = yaml.safe_load((CLUSTER / "kuberay-rayjob.yaml").read_text())
    assert rayjob["spec"]["rayClusterSpec"]["rayVersion"] == pinned
    yaml.safe_load((CLUSTER / "cluster-launcher.yaml").read_text())
    yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())


def test_no_dashboard_listens_on_every_interface():
    for path in CLUSTER.iterdir():
        assert "0.0.0.0" not in path.read_text(), path


def test_the_launcher_starts_every_node_with_token_auth():
    launcher = yaml.safe_load((CLUSTER / "cluster-launcher.yaml").read_text())
    for command in launcher["head_start_ray_commands"] + launcher["worker_start_ray_commands"]:
        if " ray start" in command or command.startswith("ray start") or "/ray start" in command:
            assert "RAY_AUTH_MODE=token" in command, command
