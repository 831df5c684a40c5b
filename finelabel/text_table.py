"""Rows of values as an aligned text table, for the CLI's run and trial listings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def format_cell(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    """A header of the first row's keys, then one line per row, columns left-aligned."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[format_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths))
                     for line in [columns, *cells])
