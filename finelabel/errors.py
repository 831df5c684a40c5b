"""Errors a user can act on, and the policy that decides whether a damaged record stops a run.

Every error names the file (and line, for list files) and says what to do; the CLI prints it as
one line without a traceback.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


class FinelabelError(Exception):
    """An error the user can fix; shown as one line, no traceback."""


class ConfigError(FinelabelError):
    """A configuration value or file is wrong."""


class DataError(FinelabelError):
    """A damaged input: names the file, the line (for list files) and a fix.

    ``reason`` is a short key (``missing_text``, ``not_utf8``, ...) under which ``--on-error skip``
    counts the record; ``record_level=False`` marks damage that can never be skipped (a feature
    matrix that does not match the lists).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        reason: str = "invalid",
        hint: str | None = None,
        record_level: bool = True,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = reason
        self.hint = hint
        self.record_level = record_level
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line is not None:
            where = f"{where}:{self.line}"
        text = f"{where}: {self.message}" if where else self.message
        return f"{text}. {self.hint}" if self.hint else text

    def __reduce__(self):  # keep the keyword fields when crossing process boundaries
        return (_rebuild_data_error, (self.message, self.path, self.line, self.reason, self.hint,
                                      self.record_level))


def _rebuild_data_error(message, path, line, reason, hint, record_level) -> DataError:
    return DataError(message, path=path, line=line, reason=reason, hint=hint,
                     record_level=record_level)


ON_ERROR_CHOICES = ("fail", "skip")


@dataclass
class ErrorPolicy:
    """``fail`` raises the first record-level error; ``skip`` counts it per reason and goes on.

    Errors that are not record-level are raised under both modes.
    """

    mode: str = "fail"
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ON_ERROR_CHOICES:
            raise ConfigError(f"on_error must be one of {ON_ERROR_CHOICES}, got {self.mode!r}")

    def handle(self, error: DataError) -> None:
        """Raise ``error`` or record it as skipped."""
        if self.mode == "fail" or not error.record_level:
            raise error
        self.skipped[error.reason] += 1
        self.examples.setdefault(error.reason, str(error))
        log.warning("skipped: %s", error)

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.skipped.items()))


#: How Ray prints an exception it carries only as text: ``finelabel.errors.DataError: ...``.
_PRINTED_ERROR = re.compile(r"^\s*(?:\S+\s+)?finelabel\.errors\.(\w+): (.+)$", re.MULTILINE)


def user_error(error: BaseException) -> FinelabelError | None:
    """The :class:`FinelabelError` behind ``error``, however deep Ray wrapped it, or None.

    Ray wraps an error raised in a task, an actor or a Train worker: as the cause of a
    ``RayTaskError``, inside a ``TrainingFailedError``'s worker failures, or, for an actor
    whose constructor failed, only as text in the message of an ``ActorDiedError``. The
    causes are walked first; the text is the last resort.
    """
    seen: set[int] = set()
    stack = [error]
    texts = []
    while stack:
        current = stack.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, FinelabelError):
            return _plain(current)
        texts.append(str(current))
        stack.extend(_causes(current))
    for text in texts:
        found = _PRINTED_ERROR.findall(text)
        if found:
            name, message = found[-1]
            cls = {c.__name__: c for c in (ConfigError, DataError)}.get(name, FinelabelError)
            return cls(message.strip())
    return None


def _causes(error: BaseException) -> list[BaseException]:
    """What Ray and Python link to ``error``: causes, contexts, per-worker failures."""
    linked = [error.__cause__, error.__context__, getattr(error, "cause", None),
              getattr(error, "controller_failure", None)]
    failures = getattr(error, "worker_failures", None)
    if isinstance(failures, dict):
        linked.extend(failures.values())
    return [e for e in linked if isinstance(e, BaseException)]


def _plain(error: FinelabelError) -> FinelabelError:
    """A RayTaskError doubles as its cause's class; hand back just the cause."""
    cause = getattr(error, "cause", None)
    return cause if isinstance(cause, FinelabelError) else error
