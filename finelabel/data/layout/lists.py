"""Read the "Wikipedia layout" shared by English and Chinese Wikipedia, TVGraz and users' data.

A dataset folder holds ``categories.list`` (one name a line; line n is label n),
``trainset_txt_img_cat.list`` and ``testset_txt_img_cat.list`` (``<text_id> <image_id> <label>``
a line), ``texts/<text_id>.(xml|txt)`` and ``images/<category>/<image_id>.jpg``.
Every damaged line goes through an :class:`ErrorPolicy`: ``fail`` stops at it, ``skip`` counts it.
"""

from __future__ import annotations

from pathlib import Path

from finelabel.data.layout.records import SKIP_HINT, SPLITS, PairRecord, listed_at
from finelabel.errors import DataError, ErrorPolicy

CATEGORIES_FILE = "categories.list"
LIST_FILES = {"train": "trainset_txt_img_cat.list", "test": "testset_txt_img_cat.list"}
TEXT_SUFFIXES = (".xml", ".txt")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def list_file(layout_dir: str | Path, split: str) -> Path:
    """The list file of ``split`` (``train`` or ``test``)."""
    if split not in LIST_FILES:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(layout_dir) / LIST_FILES[split]


def read_lines(path: str | Path) -> list[str]:
    """The lines of a UTF-8 list file, trailing blank lines dropped; a missing file is fatal."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError("file not found", path=path, reason="missing_file", record_level=False,
                        hint="Check the dataset root and layout_dir") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"not UTF-8 (byte {error.start})", path=path, line=line,
                        reason="not_utf8", record_level=False,
                        hint="Re-encode the file as UTF-8") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def count_data_lines(path: str | Path) -> int:
    """Number of data lines (feature-matrix rows) in a list file: all but trailing blank lines."""
    return len(read_lines(path))


def read_categories(path: str | Path) -> list[str]:
    """Category names, in label order (line 1 = label 1)."""
    names = [line.strip() for line in read_lines(path)]
    for number, name in enumerate(names, start=1):
        if not name:
            raise DataError("empty category name", path=path, line=number, reason="bad_category",
                            record_level=False, hint="Give every line a category name")
        if name in names[: number - 1]:
            raise DataError(f"category {name!r} is listed twice", path=path, line=number,
                            reason="bad_category", record_level=False,
                            hint="Category names must be unique")
    if not names:
        raise DataError("no categories", path=path, reason="bad_category", record_level=False,
                        hint="List one category name a line")
    return names


def _parse_label(text: str, categories: list[str], path: Path, line_no: int) -> int:
    """1-based label column -> 0-based label, or an ``unknown_label`` error."""
    try:
        label = int(text)
    except ValueError:
        label = 0
    if not 1 <= label <= len(categories):
        raise DataError(
            f"label {text!r} is not an integer in 1..{len(categories)}", path=path,
            line=line_no, reason="unknown_label",
            hint=f"Labels index the {len(categories)} lines of {CATEGORIES_FILE}: fix the "
                 f"label, {SKIP_HINT}")
    return label - 1


def parse_pair_line(line: str, split: str, categories: list[str], path: Path, line_no: int,
                    row: int) -> PairRecord:
    """One list line -> a record, or a ``bad_columns`` / ``unknown_label`` error."""
    columns = line.split()
    if len(columns) != 3:
        raise DataError(
            f"expected 3 columns <text_id> <image_id> <label>, found {len(columns)}", path=path,
            line=line_no, reason="bad_columns", hint=f"Separate the columns by tabs, {SKIP_HINT}")
    text_id, image_id, label = columns
    return PairRecord(text_id=text_id, image_id=image_id,
                      label=_parse_label(label, categories, path, line_no), split=split,
                      list_path=str(path), line_no=line_no, row=row)


def _check_unique(record: PairRecord, seen: dict[tuple[str, str], str]) -> None:
    """Raise ``duplicate`` when the (text, image) pair was read before, in either list."""
    key = (record.text_id, record.image_id)
    if key in seen:
        raise DataError(
            f"pair ({record.text_id}, {record.image_id}) is already listed at {seen[key]}",
            path=record.list_path, line=record.line_no, reason="duplicate",
            hint=f"List each pair once, in one split: fix the line, {SKIP_HINT}")
    seen[key] = record.where()


def read_pair_list(
    path: str | Path,
    split: str,
    categories: list[str],
    policy: ErrorPolicy,
    seen: dict[tuple[str, str], str] | None = None,
) -> list[PairRecord]:
    """Read and validate a split list; damaged lines go through ``policy``.

    ``seen`` maps the pairs already read (from the other list) to their ``<list>:<line>`` so a
    pair listed twice, in one list or across both, is caught; it is updated in place.
    """
    path = Path(path)
    seen = {} if seen is None else seen
    records = []
    for row, line in enumerate(read_lines(path)):
        try:
            record = parse_pair_line(line, split, categories, path, row + 1, row)
            _check_unique(record, seen)
        except DataError as error:
            policy.handle(error)
            continue
        records.append(record)
    return records


def read_layout(layout_dir: str | Path, policy: ErrorPolicy) -> tuple[list[str], list[PairRecord]]:
    """Categories and the records of both lists (train first, then test)."""
    layout_dir = Path(layout_dir)
    if not layout_dir.is_dir():
        raise DataError("dataset folder not found", path=layout_dir, reason="missing_file",
                        record_level=False,
                        hint=f"Expected a folder with {CATEGORIES_FILE} and the split lists")
    categories = read_categories(layout_dir / CATEGORIES_FILE)
    seen: dict[tuple[str, str], str] = {}
    records = []
    for split in SPLITS:
        records += read_pair_list(list_file(layout_dir, split), split, categories, policy, seen)
    return categories, records



def _first_existing(stem: Path, suffixes: tuple[str, ...]) -> Path | None:
    for suffix in suffixes:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def text_file(layout_dir: str | Path, text_id: str, *, record: PairRecord | None = None) -> Path:
    """``texts/<text_id>.xml``, else ``texts/<text_id>.txt``; ``missing_text`` if neither exists."""
    stem = Path(layout_dir) / "texts" / text_id
    found = _first_existing(stem, TEXT_SUFFIXES)
    if found is None:
        raise DataError(f"text file not found (nor {stem.name}.txt){listed_at(record)}",
                        path=stem.with_name(stem.name + ".xml"), reason="missing_text",
                        hint=f"Add the text, {SKIP_HINT}")
    return found


def image_file(layout_dir: str | Path, category: str, image_id: str, *,
               record: PairRecord | None = None) -> Path:
    """``images/<category>/<image_id>.jpg`` (or .jpeg/.png); ``missing_image`` if absent."""
    stem = Path(layout_dir) / "images" / category / image_id
    found = _first_existing(stem, IMAGE_SUFFIXES)
    if found is None:
        raise DataError(f"image file not found{listed_at(record)}",
                        path=stem.with_name(stem.name + ".jpg"), reason="missing_image",
                        hint=f"Add the image, {SKIP_HINT}")
    return found
