"""The Wikipedia-layout reader: records, and every damaged line under fail and skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from finelabel.data.layout.lists import (
    count_data_lines,
    image_file,
    list_file,
    read_categories,
    read_layout,
    read_pair_list,
    text_file,
)
from finelabel.errors import DataError, ErrorPolicy

CATEGORIES = ["art", "biology", "geography"]


def _write_list(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _good_lines(n: int) -> list[str]:
    return [f"t{i}\ti{i}\t{i % 3 + 1}" for i in range(n)]


def test_read_layout_reads_both_lists(tiny_layout: Path) -> None:
    categories, records = read_layout(tiny_layout, ErrorPolicy("fail"))
    assert categories == ["art", "biology", "geography"]
    train = [r for r in records if r.split == "train"]
    test = [r for r in records if r.split == "test"]
    assert (len(train), len(test)) == (12, 6)
    first = (tiny_layout / "trainset_txt_img_cat.list").read_text().splitlines()[0].split("\t")
    assert (train[0].text_id, train[0].image_id, train[0].label + 1) == (
        first[0], first[1], int(first[2]))
    assert [r.row for r in test] == list(range(6))
    assert [r.line_no for r in test] == list(range(1, 7))
    assert test[0].list_path == str(tiny_layout / "testset_txt_img_cat.list")


def test_record_where_names_list_line(tmp_path: Path) -> None:
    path = _write_list(tmp_path / "a.list", _good_lines(2))
    records = read_pair_list(path, "train", CATEGORIES, ErrorPolicy())
    assert records[1].where() == f"{path}:2"


@pytest.mark.parametrize(("bad", "reason"), [
    ("t9\ti9", "bad_columns"),
    ("t9\ti9\t1\textra", "bad_columns"),
    ("", "bad_columns"),  # a blank line before the end is a damaged data line
    ("t9\ti9\t0", "unknown_label"),
    ("t9\ti9\t4", "unknown_label"),
    ("t9\ti9\tart", "unknown_label"),
    ("t9\ti9\t1.5", "unknown_label"),
    ("t0\ti0\t1", "duplicate"),
])
def test_damaged_line_fail_mode_names_file_and_line(tmp_path: Path, bad: str,
                                                    reason: str) -> None:
    path = _write_list(tmp_path / "a.list", [*_good_lines(2), bad, *_good_lines(4)[3:]])
    with pytest.raises(DataError) as caught:
        read_pair_list(path, "train", CATEGORIES, ErrorPolicy("fail"))
    assert caught.value.reason == reason
    assert f"{path}:3:" in str(caught.value)
    assert caught.value.hint


@pytest.mark.parametrize(("bad", "reason"), [
    ("t9\ti9", "bad_columns"),
    ("t9\ti9\t7", "unknown_label"),
    ("t1\ti1\t2", "duplicate"),
])
def test_damaged_line_skip_mode_counts_and_keeps_rows(tmp_path: Path, bad: str,
                                                      reason: str) -> None:
    path = _write_list(tmp_path / "a.list", [*_good_lines(2), bad, *_good_lines(5)[3:]])
    policy = ErrorPolicy("skip")
    records = read_pair_list(path, "train", CATEGORIES, policy)
    assert policy.summary() == {reason: 1}
    assert [r.text_id for r in records] == ["t0", "t1", "t3", "t4"]
    assert [r.row for r in records] == [0, 1, 3, 4]  # rows still follow the list lines
    assert f"{path}:3" in policy.examples[reason]


def test_duplicate_across_lists(tiny_layout: Path) -> None:
    train = list_file(tiny_layout, "train")
    test = list_file(tiny_layout, "test")
    repeated = train.read_text().splitlines()[2]
    test.write_text(test.read_text() + repeated + "\n")
    with pytest.raises(DataError, match="already listed at .*trainset_txt_img_cat.list:3") as e:
        read_layout(tiny_layout, ErrorPolicy("fail"))
    assert e.value.reason == "duplicate" and e.value.line == 7
    policy = ErrorPolicy("skip")
    _, records = read_layout(tiny_layout, policy)
    assert policy.summary() == {"duplicate": 1} and len(records) == 18


def test_trailing_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.list"
    path.write_bytes(b"t0\ti0\t1\r\nt1\ti1\t2\r\n\r\n  \n\n")
    records = read_pair_list(path, "test", CATEGORIES, ErrorPolicy("fail"))
    assert [(r.text_id, r.label, r.split) for r in records] == [("t0", 0, "test"),
                                                                ("t1", 1, "test")]
    assert count_data_lines(path) == 2


def test_list_not_utf8_is_fatal_even_when_skipping(tmp_path: Path) -> None:
    path = tmp_path / "a.list"
    path.write_bytes(b"t0\ti0\t1\nt\xe9\ti1\t2\n")
    with pytest.raises(DataError, match="UTF-8") as caught:
        read_pair_list(path, "train", CATEGORIES, ErrorPolicy("skip"))
    assert caught.value.line == 2 and not caught.value.record_level


def test_missing_list_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found") as caught:
        read_pair_list(tmp_path / "nope.list", "train", CATEGORIES, ErrorPolicy("skip"))
    assert caught.value.reason == "missing_file"


def test_missing_layout_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="dataset folder not found"):
        read_layout(tmp_path / "nowhere", ErrorPolicy())


def test_read_categories(tmp_path: Path) -> None:
    path = tmp_path / "categories.list"
    path.write_text("art\nbiology \n\n")
    assert read_categories(path) == ["art", "biology"]
    path.write_text("art\nart\n")
    with pytest.raises(DataError, match="listed twice") as caught:
        read_categories(path)
    assert caught.value.line == 2
    path.write_text("\n")
    with pytest.raises(DataError, match="no categories"):
        read_categories(path)


def test_text_file_prefers_xml_then_txt(tmp_path: Path) -> None:
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("x")
    assert text_file(tmp_path, "a") == texts / "a.txt"
    (texts / "a.xml").write_text("<text>x</text>")
    assert text_file(tmp_path, "a") == texts / "a.xml"


def test_missing_text_fail_and_skip(tiny_layout: Path) -> None:
    _, records = read_layout(tiny_layout, ErrorPolicy())
    record = records[4]
    text_file(tiny_layout, record.text_id).unlink()
    with pytest.raises(DataError) as caught:
        text_file(tiny_layout, record.text_id, record=record)
    message = str(caught.value)
    assert caught.value.reason == "missing_text"
    assert str(tiny_layout / "texts" / f"{record.text_id}.xml") in message
    assert f"trainset_txt_img_cat.list:{record.line_no}" in message
    policy = ErrorPolicy("skip")
    found = []
    for r in records:
        try:
            found.append(text_file(tiny_layout, r.text_id, record=r))
        except DataError as error:
            policy.handle(error)
    assert len(found) == len(records) - 1 and policy.summary() == {"missing_text": 1}


def test_image_file_and_missing_image(tiny_layout: Path) -> None:
    categories, records = read_layout(tiny_layout, ErrorPolicy())
    record = records[-1]
    path = image_file(tiny_layout, categories[record.label], record.image_id)
    assert path == tiny_layout / "images" / categories[record.label] / f"{record.image_id}.jpg"
    path.unlink()
    with pytest.raises(DataError) as caught:
        image_file(tiny_layout, categories[record.label], record.image_id, record=record)
    assert caught.value.reason == "missing_image"
    assert str(path) in str(caught.value) and record.where() in str(caught.value)
    policy = ErrorPolicy("skip")
    policy.handle(caught.value)
    assert policy.summary() == {"missing_image": 1}


def test_list_file_rejects_unknown_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        list_file(tmp_path, "val")
