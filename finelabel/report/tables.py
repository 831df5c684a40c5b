"""Text tables for a person to read: runs, trials and MAP tables, columns aligned."""

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


def format_map_table(test: Mapping[str, Mapping[str, float]]) -> str:
    """MAP per protocol as text: columns image->text, text->image, average."""
    lines = [f"{'protocol':<16}{'image->text':>12}{'text->image':>12}{'average':>10}"]
    for protocol, values in test.items():
        lines.append(f"{protocol:<16}{values['i2t']:>12.4f}{values['t2i']:>12.4f}"
                     f"{values['avg']:>10.4f}")
    return "\n".join(lines)
