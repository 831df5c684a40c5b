"""Ray workers that outlive the local Ray they belonged to, found by its address and stopped.

A Ray worker can hang in its own exit: with Ray 2.60 a Train controller was seen deadlocked in
the core worker's destructor, run from the process's exit handlers, after it had left its
raylet. Nothing stops it then, and it kept ~1 GB for hours. The local Ray that finelabel starts
gives its processes an address of their own (``own_address``), which every worker inherits:
what outlives the instance is found by that address, never by name.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger(__name__)


def leftover_workers(address: str) -> list[int]:
    """Pids of Ray workers (processes titled ``ray::...``) whose environment names ``address``.

    Reads ``/proc`` (Linux); where there is none, finds nothing.
    """
    marker = f"RAY_ADDRESS={address}".encode()
    pids = []
    for entry in Path("/proc").glob("[0-9]*"):
        if int(entry.name) == os.getpid():
            continue
        try:
            if not (entry / "cmdline").read_bytes().startswith(b"ray::"):
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile, or another user's
            continue
        if marker in environ:
            pids.append(int(entry.name))
    return pids


def stop_leftover_workers(address: str, grace_s: float = 5.0) -> list[int]:
    """Give the workers of the shut-down Ray at ``address`` ``grace_s`` to exit, then SIGKILL
    those left; return their pids. Their Ray is gone: nothing of theirs is still needed."""
    deadline = time.monotonic() + grace_s
    while (pids := leftover_workers(address)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if pids:
        log.warning("ray: stopped %d worker process(es) that outlived the local Ray (pids %s)",
                    len(pids), ", ".join(map(str, pids)))
    return pids
