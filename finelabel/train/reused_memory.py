"""Keep the memory a training step frees for the next step, instead of handing it back to the
kernel and faulting it in again.

glibc serves every allocation of 32 MB or more with a fresh ``mmap`` and returns freed memory
at the top of its heap to the kernel. A step allocates its weight gradients anew (the text FC's
is |V| x d floats: 41 MB at |V| = 10k, d = 1024), so every step page-faulted them in again:
~11k faults per step of the benchmark's shape, which ran 17 % faster without them
(``benchmarks/bench_reused_memory.py``). Inside :func:`reused_memory` glibc takes all memory
from its heap and keeps up to ``keep_bytes`` of freed memory; on leaving, the defaults come
back and the kept memory is released (``malloc_trim``). The price, while inside: about one
more copy of the largest buffer stays resident (+414 MB for a 410 MB gradient at |V| = 100k).

Only glibc is touched (elsewhere, and under ``LD_PRELOAD``-ed or environment-tuned
allocators, which the user chose, nothing changes). The settings are process-wide: nested and
concurrent uses share one counter and the last to leave restores them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# mallopt parameters and glibc's defaults for them (malloc/malloc.c)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536
#: freed memory kept for reuse: a few steps' gradients and activations at large vocabularies
KEEP_BYTES = 1 << 30

_lock = threading.Lock()
_depth = 0


def _user_tuned() -> bool:
    """True when the allocator was chosen or tuned from outside: leave it as it is."""
    env = os.environ
    return (any(name.startswith("MALLOC_") for name in env)
            or "malloc" in env.get("GLIBC_TUNABLES", "")
            or "malloc" in env.get("LD_PRELOAD", ""))


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or _user_tuned():
        return None
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def _set(libc: ctypes.CDLL, mmap_max: int, trim_threshold: int) -> None:
    libc.mallopt(_M_MMAP_MAX, mmap_max)
    libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)


@contextmanager
def reused_memory(keep_bytes: int = KEEP_BYTES) -> Iterator[None]:
    """Within the block, freed memory stays in the process (up to ``keep_bytes``) for reuse."""
    global _depth
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        if _depth == 0:
            _set(libc, 0, keep_bytes)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, _DEFAULT_MMAP_MAX, _DEFAULT_TRIM_THRESHOLD)
                libc.malloc_trim(0)
