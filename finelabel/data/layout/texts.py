"""Read one text file of the layout: ``.xml`` (English Wikipedia) or ``.txt`` (plain UTF-8).

Runs inside Ray Data workers, so everything here is a plain, picklable function.
"""

from __future__ import annotations

import html.entities
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from finelabel.data.layout.records import SKIP_HINT, PairRecord, listed_at
from finelabel.errors import DataError

_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
# An ampersand and, if it starts a reference, the rest of it: &name; &#123; &#x1F;
_AMPERSAND = re.compile(r"&(#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)?")


def _repair_reference(match: re.Match[str]) -> str:
    reference = match.group(1)
    if reference is None:
        return "&amp;"  # a bare '&', e.g. "Arts & Crafts"
    name = reference[:-1]
    if name.startswith("#") or name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    if codepoint is not None:  # an HTML entity such as &ndash;: XML does not define it
        return f"&#{codepoint};"
    return "&amp;" + reference


def repair_xml(text: str) -> str:
    """Escape every ``&`` that does not start an entity; HTML entities become character refs.

    888 English Wikipedia files hold bare ``&`` and HTML entities (``&ndash;``) that XML rejects.
    """
    return _AMPERSAND.sub(_repair_reference, text)


def _decode(data: bytes, path: Path, record: PairRecord | None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DataError(f"not UTF-8 (byte {error.start}){listed_at(record)}", path=path,
                        line=line, reason="not_utf8",
                        hint=f"Re-encode the file as UTF-8 (iconv -t UTF-8), {SKIP_HINT}") from None


def _xml_text(text: str, path: Path, record: PairRecord | None) -> str:
    """The ``<text>`` element's content, or all text content if there is none."""
    try:
        root = ET.fromstring(repair_xml(text))
    except ET.ParseError as error:
        line, column = error.position
        raise DataError(f"malformed XML at column {column + 1}: {error.msg}{listed_at(record)}",
                        path=path, line=line, reason="bad_xml",
                        hint="Fix the XML (a <document><text>...</text></document>) "
                             "or save the text as .txt") from None
    element = root if root.tag == "text" else root.find(".//text")
    return "".join((element if element is not None else root).itertext()).strip()



def read_text(path: str | Path, record: PairRecord | None = None) -> str:
    """The text of a ``.xml`` or ``.txt`` file; a damaged file raises a :class:`DataError`.

    Reasons: ``missing_text``, ``not_utf8``, ``bad_xml``. ``record`` (optional) names the list
    line in the message.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise DataError(f"text file not found{listed_at(record)}", path=path,
                        reason="missing_text", hint=f"Add the text, {SKIP_HINT}") from None
    text = _decode(data, path, record)
    return _xml_text(text, path, record) if path.suffix.lower() == ".xml" else text
