"""Join the Ray cluster a job was submitted to, or start a local Ray of our own.

Called by entry points only: importing finelabel never starts Ray.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

LOCAL_MIN_CPUS = 4


def configure_progress() -> None:
    """Show Ray Data progress bars on a terminal, keep them out of job logs."""
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = sys.stderr.isatty() and not os.environ.get(
        "RAY_DATA_DISABLE_PROGRESS_BARS"
    )
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # per-dataset plans drown the output
    # Bars are off on purpose when stderr is not a terminal: no warning that they are.
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)


def local_cpus(num_cpus: int | None = None) -> int:
    """Logical CPUs of a local Ray: at least 4, so that two Train workers plus Ray Data's
    tasks and actors are schedulable together on a 2-core laptop."""
    return num_cpus or max(LOCAL_MIN_CPUS, os.cpu_count() or 1)


def init_kwargs(address: str | None, num_cpus: int | None = None) -> dict:
    """``ray.init`` arguments: join ``address`` (or ``RAY_ADDRESS``), else start our own Ray.

    Without an address, ``ray.init()`` would join whatever cluster
    ``/tmp/ray/ray_current_cluster`` names (a stopped head leaves it behind, another user's
    Ray writes it) and then refuse ``num_cpus``. Joining a cluster is what the user asks for
    with ``RAY_ADDRESS``; otherwise ``address="local"`` always starts a fresh instance.
    """
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        return {"address": address, **_tell_workers(address)}
    return {"address": "local", "num_cpus": local_cpus(num_cpus)}


#: Where Ray puts a submitted job's runtime env for its driver (ray._private.runtime_env).
JOB_CONFIG_VARIABLE = "RAY_JOB_CONFIG_JSON_ENV_VAR"


def _tell_workers(address: str) -> dict:
    """A runtime env that gives every worker of the job the cluster's GCS ``address``.

    Ray's state API inside a worker finds "its" cluster from ``RAY_ADDRESS``, else by looking
    for Ray processes on the machine, and fails when it finds two (a second Ray beside a
    node). Ray Train's placement-group cleaner is such a worker: it died of it, and every
    trial that Tune stopped early (ASHA; at ``max_t`` too) kept its worker group's CPUs
    until the search ended, so the next trial could not be placed. Nodes started without
    ``RAY_ADDRESS`` in their environment (``ray start``) hand none to their workers.
    Left out for Ray Client and dashboard addresses, and where the job already sets it.
    """
    if "://" in address or address in ("auto", "local"):
        return {}
    job = json.loads(os.environ.get(JOB_CONFIG_VARIABLE) or "{}")
    if "RAY_ADDRESS" in ((job.get("runtime_env") or {}).get("env_vars") or {}):
        return {}
    return {"runtime_env": {"env_vars": {"RAY_ADDRESS": address}}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


@contextmanager
def own_address() -> Iterator[None]:
    """While a local Ray starts, tell it its own address (``RAY_ADDRESS``) and GCS port.

    Its processes inherit both. Without them, Ray's state API inside a worker looks for
    "the" Ray on the machine and fails when there are two (``Found multiple active Ray
    instances``): Ray Train's placement-group cleaner then dies, and every Train run a Tune
    search stops early leaves its placement group reserved until the search waits forever.
    """
    from ray._private.services import get_node_ip_address

    port = free_port()
    values = {"RAY_GCS_SERVER_PORT": str(port), "RAY_ADDRESS": f"{get_node_ip_address()}:{port}"}
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


#: Ray runs its workers at nice 15 so that a driver stays responsive; here the workers do
#: the work while the driver waits, and at nice 15 any busy process at 0 (a browser, another
#: job, a loaded CI machine) took ~30 times their share of a core: a 1,000-pair siamese epoch
#: ran for 14 minutes beside two busy processes.
LOCAL_SYSTEM_CONFIG = {"worker_niceness": 0}


@contextmanager
def local_ray(num_cpus: int | None = None) -> Iterator[None]:
    """A new local Ray instance that knows its own address (:func:`own_address`), shut down
    at the end with any worker that outlives it (:mod:`ray_leftovers`); the address stays set
    meanwhile, for this process's own state API calls."""
    import ray

    from finelabel.stages.ray_leftovers import stop_leftover_workers

    with own_address():
        ray.init(address="local", num_cpus=local_cpus(num_cpus), log_to_driver=True,
                 logging_level=logging.WARNING, _system_config=LOCAL_SYSTEM_CONFIG)
        try:
            yield
        finally:
            ray.shutdown()
            stop_leftover_workers(os.environ["RAY_ADDRESS"])


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[bool]:
    """Connect to ``address`` or ``RAY_ADDRESS``, else start a local Ray; yield whether we did.

    A Ray that was already initialised (a test session, a Tune trial) is reused and left running.
    What this function started, it shuts down.
    """
    import ray

    if ray.is_initialized():
        configure_progress()
        yield False
        return
    kwargs = init_kwargs(address, num_cpus)
    if kwargs["address"] == "local":
        with local_ray(num_cpus):
            log.info("ray: started a local instance")
            configure_progress()
            yield True
        return
    ray.init(**kwargs, log_to_driver=True, logging_level=logging.WARNING)
    log.info("ray: joined %s", kwargs["address"])
    configure_progress()
    try:
        yield True
    finally:
        ray.shutdown()
