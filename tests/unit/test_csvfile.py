"""The one CSV reader behind `paotui import` and `paotui roster import`."""

from __future__ import annotations

from bot.services import csvfile

COLS = ("grid", "date")


def test_bom_blank_lines_spaces_and_column_order() -> None:
    text = "\ufeffDate , Grid,note\n\n 2026-11-24 , 第一网格 ,x\n2026-11-25,第二网格\n"
    t = csvfile.read(text, COLS)
    assert t.errors == []
    assert t.count == 2
    assert t.lines == [
        (3, {"grid": "第一网格", "date": "2026-11-24"}),
        (4, {"grid": "第二网格", "date": "2026-11-25"}),
    ]


def test_more_cells_than_the_header_is_an_error_with_its_line() -> None:
    t = csvfile.read("grid,date\ng1,2026-11-24,extra\ng2,2026-11-24,\n", COLS)
    assert t.errors == [(2, "more than the 2 columns of the header")]
    assert t.count == 2
    assert [line for line, _ in t.lines] == [3]


def test_header_missing_a_column_stops_reading() -> None:
    t = csvfile.read("grid,day\ng1,2026-11-24\n", COLS)
    assert not t.header_ok
    assert t.lines == []
    assert t.errors == [(1, "the first line must be the header grid,date (missing: date)")]


def test_empty_file() -> None:
    t = csvfile.read("\n \n", COLS)
    assert t.errors == [(1, "the file is empty; the first line must be the header")]
    assert not t.header_ok
