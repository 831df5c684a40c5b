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


def format_reproduce_table(results: Mapping[str, Any]) -> str:
    """A reproduction as Markdown: MAP per method (mean +- std over seeds), then the paired
    differences with their verdicts."""
    def cell(stats: Mapping[str, Any]) -> str:
        return f"{stats['mean']:.4f} +- {stats['std']:.4f}"

    lines = ["| method | seeds | test i2t | test t2i | test avg | train@100 avg |",
             "|---|---|---|---|---|---|"]
    for name, method in results["methods"].items():
        at_train = next(v for k, v in method.items() if k.startswith("train_at_"))
        lines.append(f"| {name} | {len(method['seeds'])} | {cell(method['test']['i2t'])} | "
                     f"{cell(method['test']['t2i'])} | {cell(method['test']['avg'])} | "
                     f"{cell(at_train['avg'])} |")
    lines += ["", "| paired difference (test avg) | mean +- se | verdict |", "|---|---|---|"]
    for name, diff in results["differences"].items():
        lines.append(f"| {name} | {diff['mean']:+.4f} +- {diff['se']:.4f} | {diff['verdict']} |")
    return "\n".join(lines)
