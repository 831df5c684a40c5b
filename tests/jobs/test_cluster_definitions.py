"""The cluster definitions, parsed and checked against the code: the pinned Ray, the image the
Dockerfile builds, requests = limits, token auth, secrets only from Secrets, resources that
hold what the jobs ask Ray for, dashboards and servers kept off public interfaces."""

from __future__ import annotations

import re
import shlex

import yaml

from finelabel.config import load_config
from tests.paths import REPO

CLUSTER = REPO / "cluster"
IMAGE = "your-registry/finelabel:"
#: Environment variables that carry secrets: they must come from a Kubernetes Secret.
SECRET_ENV = re.compile(r"TOKEN|SECRET|PASSWORD|ACCESS_KEY|BACKEND_STORE_URI")


def _pinned_ray() -> str:
    text = (REPO / "pyproject.toml").read_text()
    return re.search(r'"ray\[[^\]]*\]==([0-9.]+)"', text).group(1)


def _rayjob() -> dict:
    return yaml.safe_load((CLUSTER / "kuberay-rayjob.yaml").read_text())


def _containers(doc: dict) -> list[dict]:
    """Every container of a RayJob (head, worker groups, submitter) or a Deployment."""
    spec = doc["spec"]
    if doc["kind"] == "Deployment":
        return spec["template"]["spec"]["containers"]
    cluster = spec["rayClusterSpec"]
    templates = [cluster["headGroupSpec"]["template"], spec["submitterPodTemplate"],
                 *[group["template"] for group in cluster["workerGroupSpecs"]]]
    return [c for t in templates for c in t["spec"]["containers"]]


def _kubernetes_docs() -> list[dict]:
    docs = [_rayjob()]
    docs += [d for d in yaml.safe_load_all((CLUSTER / "mlflow-server.yaml").read_text())
             if d["kind"] == "Deployment"]
    return docs


def test_every_definition_parses_and_names_the_pinned_ray():
    pinned = _pinned_ray()
    assert _rayjob()["spec"]["rayClusterSpec"]["rayVersion"] == pinned
    yaml.safe_load((CLUSTER / "cluster-launcher.yaml").read_text())
    yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())
    assert {d["kind"] for d in yaml.safe_load_all((CLUSTER / "mlflow-server.yaml").read_text())
            } == {"Deployment", "Service"}


def test_the_dockerfile_builds_on_the_pinned_ray_image_and_copies_what_exists():
    text = (CLUSTER / "Dockerfile").read_text()
    pinned = _pinned_ray()
    assert f"ARG BASE_IMAGE=rayproject/ray:{pinned}-py311\n" in text
    assert f"BASE_IMAGE=rayproject/ray:{pinned}-py311-gpu" in text  # the CUDA build, documented
    for line in text.splitlines():
        if line.startswith("COPY"):
            for source in [w for w in line.split()[1:-1] if not w.startswith("--")]:
                assert (REPO / source).exists(), line
    extra = re.search(r'"\.\[(\w+)\]"', text).group(1)
    assert re.search(rf"^{extra} = \[", (REPO / "pyproject.toml").read_text(), re.M)


def test_every_container_runs_the_image_with_requests_equal_to_limits():
    for doc in _kubernetes_docs():
        for container in _containers(doc):
            assert container["image"].startswith(IMAGE), container["name"]
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], container["name"]
    launcher = yaml.safe_load((CLUSTER / "cluster-launcher.yaml").read_text())
    assert launcher["docker"]["image"].startswith(IMAGE)


def test_token_auth_in_every_ray_container_and_secrets_only_from_secrets():
    for doc in _kubernetes_docs():
        for container in _containers(doc):
            env = {e["name"]: e for e in container.get("env", [])}
            if doc["kind"] == "RayJob":
                assert env["RAY_AUTH_MODE"]["value"] == "token", container["name"]
                assert "secretKeyRef" in env["RAY_AUTH_TOKEN"]["valueFrom"]
            for name, entry in env.items():
                if SECRET_ENV.search(name):
                    assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], name


def test_the_worker_groups_hold_what_the_job_asks_ray_for():
    """The entrypoint's config and --set values decide the ScalingConfig: the CPU group holds
    a training's workers (1 CPU each) beside a Ray Data reader; the GPU group can grow to one
    GPU per worker, and tells Ray how many GPUs a node has."""
    spec = _rayjob()["spec"]
    args = shlex.split(spec["entrypoint"])
    script = args[1]
    assert (REPO / script).is_file()
    config_path = args[args.index("--config") + 1]
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    config = load_config(REPO / config_path, overrides)
    groups = {g["groupName"]: g for g in spec["rayClusterSpec"]["workerGroupSpecs"]}
    cpu = groups["cpu"]
    per_node = int(cpu["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"])
    for train in (config.train, config.siamese):
        assert cpu["minReplicas"] * per_node >= train.num_workers + 1
    gpu = groups["gpu"]
    limits = gpu["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert gpu["rayStartParams"]["num-gpus"] == str(limits["nvidia.com/gpu"])
    assert gpu["maxReplicas"] * limits["nvidia.com/gpu"] >= config.train.num_workers
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-cpus"] == "0"  # the driver's node runs no workers


def test_the_job_logs_to_the_tracking_server_and_writes_to_the_bucket():
    args = shlex.split(_rayjob()["spec"]["entrypoint"])
    assert args[args.index("--out") + 1].startswith("s3://")
    tracking = args[args.index("--tracking-uri") + 1]
    service = next(d for d in yaml.safe_load_all((CLUSTER / "mlflow-server.yaml").read_text())
                   if d["kind"] == "Service")
    assert tracking == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    server = next(d for d in _kubernetes_docs() if d["kind"] == "Deployment")
    command = _containers(server)[0]["command"]
    assert command[command.index("--host") + 1] == "$(POD_IP)"
    assert command[command.index("--artifacts-destination") + 1].startswith("s3://")


def test_no_dashboard_or_server_listens_on_every_interface():
    for path in CLUSTER.iterdir():
        assert "0.0.0.0" not in path.read_text(), path
    script = (CLUSTER / "mlflow-server.sh").read_text()
    assert "HOST=${1:-127.0.0.1}" in script


def test_the_launcher_starts_every_node_with_token_auth():
    launcher = yaml.safe_load((CLUSTER / "cluster-launcher.yaml").read_text())
    for command in launcher["head_start_ray_commands"] + launcher["worker_start_ray_commands"]:
        if " ray start" in command or command.startswith("ray start") or "/ray start" in command:
            assert "RAY_AUTH_MODE=token" in command, command
    assert "--env RAY_AUTH_MODE=token" in launcher["docker"]["run_options"]
