"""Ctrl-C during Ray Train's ``fit`` is an interrupt: the run is aborted and
``KeyboardInterrupt`` raised, and nothing of the run outlives ``fit``.

Ray Train 2.60's ``fit``, called from the main thread, installs a SIGINT handler that aborts
the run and calls ``sys.exit(0)``, which Ray's ``get`` turns into ``SystemExit(1)``; and it
leaves that handler installed after ``fit`` returns. Left alone:

- Ctrl-C during training ended ``finelabel pipeline`` with exit status 1 and Ray's log line,
  not our one line saying how to resume;
- the handler keeps the finished run's controller actor (with its dataset actors) alive until
  the next ``fit``: the leftovers seen in loaded test runs;
- a later Ctrl-C (during evaluation) "aborted" that finished run and exited again.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: Seconds a Ctrl-C waits for Ray Train to stop its workers before raising anyway.
ABORT_WAIT_S = 30


def interruptible(trainer_class: type) -> type:
    """``trainer_class`` (a Ray Train trainer) whose Ctrl-C aborts the run, then raises
    ``KeyboardInterrupt``; use it inside :func:`sigint_restored`."""

    class Interruptible(trainer_class):
        def _register_sigint_handler(self, controller) -> None:  # Ray's hook, main thread only
            signal.signal(signal.SIGINT, _aborting(controller))

    Interruptible.__name__ = Interruptible.__qualname__ = trainer_class.__name__
    return Interruptible


def _aborting(controller):
    def on_ctrl_c(signum, frame) -> None:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        log.warning("Ctrl-C: stopping the training run; its checkpoints are kept, and the same "
                    "command resumes from them")
        # the controller stops its workers, then ends its own process: that is its answer
        with contextlib.suppress(RayActorError, GetTimeoutError):
            ray.get(controller.abort.remote(), timeout=ABORT_WAIT_S)
        raise KeyboardInterrupt

    return on_ctrl_c


@contextlib.contextmanager
def sigint_restored() -> Iterator[None]:
    """Put back the SIGINT handler from before: the trainer's holds the run's controller."""
    if threading.current_thread() is not threading.main_thread():
        yield  # no handler is installed outside the main thread (a Tune trial)
        return
    before = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if before is not None:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, before)
