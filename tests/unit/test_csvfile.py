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


def test_a_cell_over_the_csv_limit_is_a_line_error_not_a_crash() -> None:
    """csv.Error ("field larger than field limit") used to escape as a traceback."""
    huge = "x" * 140_000
    t = csvfile.read(f"grid,date\ng1,2026-11-24\n{huge},2026-11-24\ng3,2026-11-24\n", COLS)
    assert t.errors == [
        (3, "a cell is longer than 131,072 characters; the rest of the file was not read")
    ]
    assert [line for line, _ in t.lines] == [2]
    assert t.count == 2


def test_an_unclosed_quote_running_past_the_limit_names_its_line() -> None:
    t = csvfile.read('grid,date\n"g1' + "\n" * 3 + "y" * 140_000 + "\n", COLS)
    assert len(t.errors) == 1 and "longer than 131,072 characters" in t.errors[0][1]
    assert t.lines == []


def test_nul_and_control_characters_in_a_cell_are_line_errors() -> None:
    text = "grid,date\ng\x001,2026-11-24\ng2,2026-\x1b[31m11\ngood,2026-11-24\nab\u2028c,x\n"
    t = csvfile.read(text, COLS)
    assert t.errors == [
        (2, "the grid contains a control character (U+0000); type it again as plain text"),
        (3, "the date contains a control character (U+001B); type it again as plain text"),
        (5, "the grid contains a control character (U+2028); type it again as plain text"),
    ]
    assert t.lines == [(4, {"grid": "good", "date": "2026-11-24"})]


def test_a_quoted_line_break_inside_a_name_is_refused() -> None:
    t = csvfile.read('grid,date\n"第一\n网格",2026-11-24\n', COLS)
    assert t.errors == [
        (3, "the grid contains a control character (U+000A); type it again as plain text")
    ]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_refused() -> None:
    """Formula injection on the import side: a name beginning with = + - @ (or a tab or CR,
    stripped first) never reaches the database, so it never reaches the ledger."""
    cells = ['=HYPERLINK("http://x","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1+1", "-"]
    for cell in cells:
        quoted = '"' + cell.replace('"', '""') + '"'
        t = csvfile.read(f"grid,date\n{quoted},2026-11-24\n", COLS)
        assert t.lines == [], cell
        assert len(t.errors) == 1 and t.errors[0][0] == 2, cell
        assert "a name cannot begin with = + - or @" in t.errors[0][1], cell


def test_numbers_and_phone_numbers_with_a_sign_still_pass() -> None:
    """ "+86 139 0000 2001" is how many people write a phone number; "-1" is a bad count the
    importer explains itself. Neither is a formula."""
    t = csvfile.read("grid,date\n+86 139 0000 2001,-1\n(010) 1234-5678,+1\n", COLS)
    assert t.errors == []
    assert [v for _, v in t.lines] == [
        {"grid": "+86 139 0000 2001", "date": "-1"},
        {"grid": "(010) 1234-5678", "date": "+1"},
    ]
