"""Reading one text file: XML repair, plain text, and each damaged file under fail and skip."""

from __future__ import annotations

import pickle
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from finelabel.data.layout.records import PairRecord
from finelabel.data.layout.texts import read_text, repair_xml
from finelabel.errors import DataError, ErrorPolicy
from tests.paths import REPO

DOC = '<document id="a-1" name="Liszt" cat="9">\n<text>\n{}\n</text>\n</document>\n'


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(("raw", "repaired"), [
    ("Arts & Crafts", "Arts &amp; Crafts"),
    ("R&B", "R&amp;B"),
    ("a &amp; b &lt; c &#38; d &#x26;", "a &amp; b &lt; c &#38; d &#x26;"),
    ("1848&ndash;1861", "1848&#8211;1861"),
    ("&madeup; x", "&amp;madeup; x"),
    ("trailing &", "trailing &amp;"),
])
def test_repair_xml(raw: str, repaired: str) -> None:
    assert repair_xml(raw) == repaired


def test_read_xml_returns_text_element(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.xml", DOC.format("Liszt & Wagner (1848&ndash;1861) &amp; co."))
    with pytest.raises(ET.ParseError):  # the raw file is not XML
        ET.fromstring(path.read_text())
    assert read_text(path) == "Liszt & Wagner (1848\u20131861) & co."


def test_read_xml_without_text_element_uses_all_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.xml", "<doc><title>Title</title><body>Body</body></doc>")
    assert read_text(path) == "TitleBody"


def test_read_txt_as_is(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.txt", "维也纳的音乐会。\n第二行 & <b>\n")
    assert read_text(path) == "维也纳的音乐会。\n第二行 & <b>\n"


def test_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.xml", b"\xef\xbb\xbf" + DOC.format("caf\u00e9").encode())
    assert read_text(path) == "caf\u00e9"


RECORD = PairRecord("a-1", "img", 0, "train", "/data/trainset_txt_img_cat.list", 12, 11)


def _damage(tmp_path: Path, kind: str) -> Path:
    if kind == "missing_text":
        return tmp_path / "gone.xml"
    if kind == "not_utf8":
        return _write(tmp_path / "e.txt", "line one\ncaf\u00e9\n".encode("latin-1"))
    return _write(tmp_path / "f.xml", '<document id="x">\n<text>\nno end\n</document>\n')


@pytest.mark.parametrize("kind", ["missing_text", "not_utf8", "bad_xml"])
def test_damaged_text_fail_mode(tmp_path: Path, kind: str) -> None:
    path = _damage(tmp_path, kind)
    with pytest.raises(DataError) as caught:
        ErrorPolicy("fail").handle(_error_of(path))
    error = caught.value
    assert error.reason == kind and error.record_level
    assert str(path) in str(error) and "trainset_txt_img_cat.list:12" in str(error)


@pytest.mark.parametrize("kind", ["missing_text", "not_utf8", "bad_xml"])
def test_damaged_text_skip_mode(tmp_path: Path, kind: str) -> None:
    policy = ErrorPolicy("skip")
    policy.handle(_error_of(_damage(tmp_path, kind)))
    assert policy.summary() == {kind: 1}


def _error_of(path: Path) -> DataError:
    try:
        read_text(path, RECORD)
    except DataError as error:
        return error
    raise AssertionError(f"{path} read without error")


def test_not_utf8_says_reencode_and_line(tmp_path: Path) -> None:
    error = _error_of(_damage(tmp_path, "not_utf8"))
    assert "not UTF-8" in str(error) and "Re-encode" in str(error)
    assert error.line == 2


def test_bad_xml_gives_parser_line_and_column(tmp_path: Path) -> None:
    error = _error_of(_damage(tmp_path, "bad_xml"))
    assert error.line == 4 and "column" in str(error)
    assert f"{tmp_path / 'f.xml'}:4:" in str(error)


def test_reader_and_errors_pickle(tmp_path: Path) -> None:
    """Ray Data ships the function to workers and errors back: a fresh process (nothing of
    finelabel imported) unpickles the reader and reads a file as this one does."""
    path = _write(tmp_path / "w.xml", DOC.format("Liszt & Wagner (1848&ndash;1861)"))
    script = ("import pickle, sys; read = pickle.loads(sys.stdin.buffer.read()); "
              "sys.stdout.buffer.write(read(sys.argv[1]).encode())")
    worker = subprocess.run([sys.executable, "-c", script, str(path)],
                            input=pickle.dumps(read_text), capture_output=True, cwd=REPO,
                            timeout=60)
    assert worker.returncode == 0, worker.stderr.decode()
    assert worker.stdout.decode() == read_text(path) == "Liszt & Wagner (1848\u20131861)"
    error = pickle.loads(pickle.dumps(_error_of(_damage(tmp_path, "bad_xml"))))
    assert error.reason == "bad_xml" and error.line == 4
