"""One line of a split list: a text, an image, a category, and where the line came from."""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "test")
#: What to do about a damaged record; follows the specific fix in an error's hint.
SKIP_HINT = "or delete its line from the list, or run with --on-error skip to leave it out"


@dataclass(frozen=True)
class PairRecord:
    """A text-image pair as listed in ``{train,test}set_txt_img_cat.list``.

    ``row`` indexes the split's feature matrix: the position of the line among the list's data
    lines, skipped lines included, so a skipped line never shifts the rows after it.
    """

    text_id: str
    image_id: str
    #: 0-based index into ``categories.list`` (the list files store it 1-based).
    label: int
    #: ``train`` or ``test``.
    split: str
    list_path: str
    #: 1-based line number in ``list_path``.
    line_no: int
    row: int

    def where(self) -> str:
        """``<list file>:<line>``, for error messages about the files this line names."""
        return f"{self.list_path}:{self.line_no}"


def listed_at(record: PairRecord | None) -> str:
    """`` (listed at <list>:<line>)`` for an error about a file the record names; else ''."""
    return f" (listed at {record.where()})" if record is not None else ""
