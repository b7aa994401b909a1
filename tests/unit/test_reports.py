"""/stats numbers, the daily summary's once-a-day claim, and the ledger export read back with
openpyxl and checked against the database (also from the command line)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.clock import OffsetClock
from bot.db import Database
from bot.errors import Refused
from bot.i18n import gettext_for
from bot.runtime import Runtime
from bot.seed import seed_demo
from bot.services import audit, reports
from bot.services.orders import resident_moves, texts, transitions
from bot.services.scope import Scope, scope_of
from cli.main import main
from models import (
    AuditEntry,
    Grid,
    Notice,
    NoticeDelivery,
    Order,
    OrderEvent,
    Volunteer,
)
from tests.conftest import make_settings
from tests.factories import LEDGER_SHEETS, STAFF, VOLUNTEERS_1
from tests.unit.test_orders import _order, _resident

ZH = gettext_for("zh_CN")


class StoppedClock(OffsetClock):
    """Time moves only when the test moves it: the medians come out exact however long a busy
    machine takes between two steps (real seconds made 20 minutes read 20.1)."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__()
        self._start = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._start + self.offset


@pytest.fixture
async def rt(rt: Runtime) -> Runtime:
    rt.clock = StoppedClock()
    return rt


V1, V2 = VOLUNTEERS_1[0], VOLUNTEERS_1[1]


def _advance(rt: Runtime, minutes: float) -> None:
    assert isinstance(rt.clock, OffsetClock)
    rt.clock.advance(timedelta(minutes=minutes))


async def _run(rt: Runtime, order_id: int, tid: int) -> None:
    async with rt.db.session() as s:
        await transitions.advance(rt, s, order_id, tid, "buy")
        await transitions.advance(rt, s, order_id, tid, "go")


async def _deliver(rt: Runtime, order_id: int, tid: int, fen: int) -> None:
    async with rt.db.session() as s:
        await transitions.deliver(rt, s, order_id, tid, "door", fen, "receipt")


async def _scenario(rt: Runtime) -> tuple[int, int, int, date]:
    """A and B claimed after 10 and 30 minutes, delivered 50 and 60 minutes after their
    claims; C still open 90 minutes later; A confirmed by the resident."""
    await _resident(rt)
    day = rt.today()
    a, b, c = await _order(rt), await _order(rt), await _order(rt)
    _advance(rt, 10)
    async with rt.db.session() as s:
        await transitions.claim(rt, s, a, V1)
    _advance(rt, 20)
    async with rt.db.session() as s:
        await transitions.claim(rt, s, b, V2)
    await _run(rt, a, V1)
    await _run(rt, b, V2)
    _advance(rt, 30)
    await _deliver(rt, a, V1, 3550)
    _advance(rt, 30)
    await _deliver(rt, b, V2, 1200)
    async with rt.db.session() as s:
        await resident_moves.confirm_receipt(rt, s, a, 1001)
    return a, b, c, day


async def _grid_ids(rt: Runtime) -> list[int]:
    async with rt.db.read() as s:
        return list(await s.scalars(select(Grid.id).order_by(Grid.id)))


async def test_stats_counts_medians_and_what_waits(rt: Runtime) -> None:
    _a, _b, c, day = await _scenario(rt)
    grids = await _grid_ids(rt)
    async with rt.db.read() as s:
        st = await reports.stats_for(rt, s, grids, day, day + timedelta(days=1))
    assert st.created == 3
    assert st.by_status == {"confirmed": 1, "delivered": 1, "open": 1}
    assert st.by_category == {"medicine": 3}
    assert st.median_claim_minutes == 20.0  # 10 and 30
    assert st.median_deliver_minutes == 55.0  # 50 and 60
    assert [(g.name, g.created, g.delivered, g.open_now) for g in st.grids] == [
        ("第一网格", 3, 2, 1),
        ("第二网格", 0, 0, 0),
    ]
    assert [(v.name, v.grid, v.claimed, v.delivered) for v in st.volunteers] == [
        ("王刚", "第一网格", 1, 1),
        ("李娜", "第一网格", 1, 1),
    ]
    assert [(w.order_id, w.grid, w.minutes) for w in st.unclaimed] == [(c, "第一网格", 90)]

    text = reports.render_stats(st, ZH)
    assert "20 分钟" in text or "20 min" in text
    assert f"#{c} 第一网格" in text and "王刚（第一网格）：1 / 1" in text
    en = reports.render_stats(st, gettext_for("en"))
    assert "Median time to claim: 20 min; claim to delivery: 55 min" in en

    # The second grid's leader sees nothing of the first grid.
    async with rt.db.read() as s:
        other = await reports.stats_for(rt, s, grids[1:], day, day + timedelta(days=1))
    assert (other.created, other.volunteers, other.unclaimed) == (0, [], [])
    # A later day has none of these orders, but what waits now is still listed.
    async with rt.db.read() as s:
        later = await reports.stats_for(
            rt, s, grids, day + timedelta(days=5), day + timedelta(days=5)
        )
    assert later.created == 0 and later.median_claim_minutes is None
    assert [w.order_id for w in later.unclaimed] == [c]
    assert "–" in reports.render_stats(later, ZH)


def test_parse_days() -> None:
    today = date(2026, 11, 23)
    assert reports.parse_days([], today) == (today, today)
    assert reports.parse_days(["2026-11-01"], today) == (date(2026, 11, 1), date(2026, 11, 1))
    assert reports.parse_days(["2026-11-01", "2026-11-23"], today) == (
        date(2026, 11, 1),
        today,
    )
    assert reports.preset("7d", today) == (date(2026, 11, 17), today)
    assert reports.preset("yesterday", today) == (date(2026, 11, 22), date(2026, 11, 22))
    for bad in (
        ["11/01"],
        ["2026-11-23", "2026-11-01"],
        ["2026-01-01", "2027-06-01"],
        ["a", "b", "c"],
    ):
        with pytest.raises(Refused) as e:
            reports.parse_days(bad, today, "/export")
        assert "/export 2026-11-01 2026-11-23" in e.value.render(gettext_for("en"))


# The local times the test starts at: any time of day, including the minute before the summary
# (it once moved the clock back there, which the clock refuses) and the minute after it.
@pytest.mark.parametrize("start", ["09:00:00", "19:59:30", "20:00:30", "23:59:50"])
async def test_summary_is_sent_once_at_the_configured_time(rt: Runtime, start: str) -> None:
    from models import DailyRun, OutboxMessage

    rt.settings.reports.daily_summary_at = "20:00"
    tz = ZoneInfo(rt.timezone)
    # The clock is set, not read from the wall: the test runs the same at any real hour.
    rt.clock = StoppedClock(datetime.combine(date(2030, 3, 4), time.fromisoformat(start), tz))
    now = rt.clock.now().astimezone(tz)
    at = rt.settings.reports.daily_summary_at
    hh, mm = (int(x) for x in at.split(":"))
    target = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if target - now < timedelta(minutes=2):  # room to stand a minute before it
        target += timedelta(days=1)
    _advance(rt, (target - now).total_seconds() / 60 - 1)
    assert await reports.summary_due(rt) == 0
    _advance(rt, 1.5)
    assert await reports.summary_due(rt) == 1  # the demo's one staff member
    assert await reports.summary_due(rt) == 0
    async with rt.db.read() as s:
        sent = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == STAFF)))
        runs = list(await s.scalars(select(DailyRun)))
    assert len(sent) == 1 and sent[0].text.startswith(ZH(reports.SUMMARY_TITLE))
    assert [(r.kind, r.day) for r in runs] == [(reports.SUMMARY_KIND, target.date())]


async def _notice(rt: Runtime) -> int:
    async with rt.db.session() as s:
        grid = await s.scalar(select(Grid).order_by(Grid.id))
        assert grid is not None
        n = Notice(
            community_id=grid.community_id,
            grid_id=grid.id,
            audience="grid",
            author_telegram_id=STAFF,
            text="明天上午核酸检测",
            sent_at=rt.clock.now(),
            recipients=2,
            created_at=rt.clock.now(),
        )
        s.add(n)
        await s.flush()
        s.add(NoticeDelivery(notice_id=n.id, chat_id=1001, confirmed_at=rt.clock.now()))
        s.add(NoticeDelivery(notice_id=n.id, chat_id=1002))
        await audit.record(s, rt.clock, STAFF, "notice.sent", f"notice:{n.id}", recipients=2)
        return n.id


def _sheet(wb: Any, title: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A sheet's heading and rows, without its totals row ("合计：…", the last, if any)."""
    rows = list(wb[title].iter_rows(values_only=True))
    if len(rows) > 1 and str(rows[-1][0]).startswith("合计："):
        rows.pop()
    return list(rows[0]), rows[1:]


async def test_export_rows_match_the_database(rt: Runtime) -> None:
    a, b, c, day = await _scenario(rt)
    notice_id = await _notice(rt)
    async with rt.db.read() as s:
        scope = await scope_of(s, STAFF)
        assert scope is not None
        sheets = await reports.ledger(s, scope, day, day + timedelta(days=1), rt.timezone)
        data = reports.workbook_bytes(sheets)
        db_orders = {o.id: o for o in await s.scalars(select(Order))}
        db_events = list(await s.scalars(select(OrderEvent).order_by(OrderEvent.id)))
        db_vols = list(await s.scalars(select(Volunteer).order_by(Volunteer.id)))
        db_audit = list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        csv_data = reports.csv_bytes(sheets[0])
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == LEDGER_SHEETS

    head, rows = _sheet(wb, "订单")
    assert head == list(reports.ORDER_HEADINGS)
    col = {h: i for i, h in enumerate(head)}
    assert [r[col["订单编号"]] for r in rows] == sorted(db_orders) == [a, b, c]
    for r in rows:
        o = db_orders[r[col["订单编号"]]]
        assert r[col["社区"]] == "幸福社区" and r[col["网格"]] == "第一网格"
        assert (r[col["小区"]], r[col["楼栋"]], r[col["单元"]], r[col["房号"]]) == (
            "幸福小区",
            "2栋",
            "3",
            "502",
        )
        assert r[col["联系电话"]] == o.contact_phone
        assert r[col["类型"]] == ZH("Medicine")
        assert r[col["状态"]] == ZH(texts.STATUS[o.status])
        assert r[col["花费(元)"]] == (
            None if o.amount_spent_fen is None else o.amount_spent_fen / 100
        )
        local = o.created_at.astimezone(ZoneInfo(rt.timezone)).replace(tzinfo=None)
        assert r[col["下单时间"]] == local.replace(microsecond=0)
    by_id = {r[col["订单编号"]]: r for r in rows}
    assert by_id[a][col["志愿者"]] == "王刚" and by_id[a][col["花费(元)"]] == 35.5
    assert by_id[b][col["花费(元)"]] == 12.0 and by_id[c][col["志愿者"]] is None
    assert by_id[a][col["状态"]] == ZH("received, finished")

    head, rows = _sheet(wb, "订单记录")
    assert head[:3] == ["订单编号", "时间", "操作方"]
    assert [r[0] for r in rows] == [e.order_id for e in db_events]
    claims = [r for r in rows if r[6] == ZH("taken by a volunteer")]
    assert [(r[0], r[2], r[3], r[4]) for r in claims] == [
        (a, "志愿者", "王刚", V1),
        (b, "志愿者", "李娜", V2),
    ]

    head, rows = _sheet(wb, "志愿者")
    grid1 = [v for v in db_vols if v.grid_id == db_orders[a].grid_id]
    assert len(rows) == len(db_vols)  # community staff: both grids
    wang = next(r for r in rows if r[1] == "王刚")
    assert (wang[head.index("期间接单")], wang[head.index("期间送达")]) == (1, 1)
    assert len(grid1) == 4

    head, rows = _sheet(wb, "通知")
    assert [(r[0], r[head.index("内容")], r[-3], r[-1]) for r in rows] == [
        (notice_id, "明天上午核酸检测", 2, 1)
    ]
    head, rows = _sheet(wb, "通知回执")
    assert [(r[1], r[head.index("确认时间")] is not None) for r in rows] == [
        (1001, True),
        (1002, False),
    ]

    head, rows = _sheet(wb, "操作记录")
    assert head == ["时间", "操作人", "Telegram ID", "操作", "对象", "详情"]
    mine = [a_ for a_ in db_audit if a_.actor_telegram_id == STAFF]
    assert [e.target for e in mine] == [f"notice:{notice_id}"]
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("赵书记", STAFF, "发送通知", f"通知 #{notice_id}", "接收人数：2")
    ]

    text = csv_data.decode("utf-8")
    assert text.startswith("\ufeff订单编号,")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert [int(x[0]) for x in lines[1:]] == [a, b, c]
    assert lines[1][col["花费(元)"]] == "35.50"

    # A grid leader of the second grid exports nothing of the first.
    async with rt.db.read() as s:
        grids = await _grid_ids(rt)
        other = Scope(grids=frozenset({grids[1]}))
        sheets = await reports.ledger(s, other, day, day, "Asia/Shanghai")
        wb2 = load_workbook(io.BytesIO(reports.workbook_bytes(sheets)))
    assert [len(_sheet(wb2, t)[1]) for t in ("订单", "通知", "操作记录", "关爱名单")] == [
        0,
        0,
        0,
        0,
    ]


def test_the_command_line_export(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_settings(database_url)
    monkeypatch.setenv("PAOTUI_DATABASE__URL", settings.database.url)

    async def setup() -> tuple[list[int], date]:
        rt = Runtime(settings, Database(settings.database.url), OffsetClock())
        async with rt.db.session() as s:
            await seed_demo(s, rt.clock)
        await _resident(rt)
        ids = [await _order(rt), await _order(rt)]
        await rt.db.dispose()
        return ids, rt.today()

    ids, day = asyncio.run(setup())
    out, out_csv = tmp_path / "ledger.xlsx", tmp_path / "orders.csv"
    d = day.isoformat()
    args = ["export", "--from", d, "--to", d, "--out", str(out), "--csv", str(out_csv)]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "2 order(s)" in said and str(out) in said
    wb = load_workbook(out)
    assert [r[0] for r in _sheet(wb, "订单")[1]] == ids
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    # One community by its code; an unknown code and bad dates are refused.
    assert main([*args, "--community", "xingfu"]) == 0
    capsys.readouterr()
    assert main([*args, "--community", "nowhere"]) == 1
    assert "There is no community nowhere." in capsys.readouterr().err
    assert main(["export", "--from", d, "--to", "2020-01-01", "--out", str(out)]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err

    async def audited() -> list[tuple[int | None, str]]:
        db = Database(settings.database.url)
        async with db.read() as s:
            rows = [(e.actor_telegram_id, e.action) for e in await s.scalars(select(AuditEntry))]
        await db.dispose()
        return rows

    assert asyncio.run(audited()) == [(None, "report.exported"), (None, "report.exported")]


FORMULAS = {
    "contact": '=HYPERLINK("http://x","y")',
    "plus": "+86 138 0000 1001",
    "at": "@SUM(1+1)*cmd|' /C calc'!A0",
    "minus": "-1+2",
    "tab": "\t=1",
    "cr": "\r=1",
}


async def test_ledger_cells_that_look_like_formulas_stay_text(rt: Runtime) -> None:
    """A resident named =HYPERLINK(...) (or any text starting with = + - @, tab or CR) is
    shown literally in the XLSX and the CSV, never run as a formula (OWASP CSV injection);
    numbers stay numbers, a negative amount included."""
    rt.settings.limits.max_open_orders = 5
    await _resident(rt)
    day = rt.today()
    ids = [await _order(rt) for _ in range(5)]
    texts = [FORMULAS[k] for k in ("plus", "at", "minus", "tab", "cr")]
    async with rt.db.session() as s:
        for oid, text in zip(ids, texts, strict=True):
            o = await s.get(Order, oid)
            assert o is not None
            o.contact_name = FORMULAS["contact"]
            o.description = text
        o.amount_spent_fen = -350  # a refund: a number, not text
    notice_id = await _notice(rt)
    async with rt.db.session() as s:
        n = await s.get(Notice, notice_id)
        assert n is not None
        n.text = "=1+1"
    async with rt.db.read() as s:
        scope = await scope_of(s, STAFF)
        assert scope is not None
        files = await reports.export(s, scope, day, day, rt.timezone)
    assert files.orders == 5

    wb = load_workbook(io.BytesIO(files.xlsx))
    formulas = [
        (ws.title, c.coordinate, c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.data_type == "f"
    ]
    assert formulas == []
    ws = wb["订单"]
    head = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2, max_row=ws.max_row - 1))  # not the totals row
    name, what, spent = head.index("联系人"), head.index("需求"), head.index("花费(元)")
    assert [r[name].value for r in rows] == ["'" + FORMULAS["contact"]] * 5
    # (Without lxml, openpyxl writes a CR as is and XML reads it back as a line feed.)
    assert [r[what].value.replace("\r", "\n") for r in rows] == [
        "'" + t.replace("\r", "\n") for t in texts
    ]
    assert all(r[name].data_type == "s" and r[what].data_type == "s" for r in rows)
    assert rows[-1][spent].value == -3.5 and rows[-1][spent].data_type == "n"
    assert [r[0].data_type for r in rows] == ["n"] * 5  # order numbers stay numbers
    notice = next(wb["通知"].iter_rows(min_row=2))
    text = [c.value for c in wb["通知"][1]].index("内容")
    assert notice[text].value == "'=1+1" and notice[text].data_type == "s"

    lines = list(csv.reader(io.StringIO(files.csv.decode("utf-8").lstrip("\ufeff"))))
    assert [line[name] for line in lines[1:]] == ["'" + FORMULAS["contact"]] * 5
    assert [line[what] for line in lines[1:]] == ["'" + t for t in texts]
    assert lines[-1][spent] == "-3.50"  # a number is written as it is
    assert not [
        cell
        for line in lines
        for i, cell in enumerate(line)
        if i != spent and cell.startswith(reports.FORMULA_START)
    ]


def test_stats_text_fits_however_long_the_names() -> None:
    """Long names make even the first few lines too long: fewer are shown, never a message
    Telegram refuses; the totals stay."""
    d = date(2026, 11, 23)
    vols = [reports.VolunteerLine(k, "长" * 60, "网格" * 20, 3, 2) for k in range(40)]
    waiting = [reports.Waiting(k, "网格" * 60, "medicine", "urgent", 90) for k in range(40)]
    st = reports.Stats(
        d, d, 120, {"open": 120}, {"medicine": 120}, [], vols, None, None, 30, waiting
    )
    for limit in (4096, 1500):
        text = reports.render_stats(st, ZH, limit)
        assert len(text.encode("utf-16-le")) // 2 <= limit
        assert "：120 单" in text and "…还有" in text


def test_an_export_is_cut_into_whole_days_that_fit_a_part() -> None:
    first, last = date(2026, 11, 1), date(2026, 11, 30)
    # It fits: one part, the whole range.
    assert reports.split_days(first, last, 400_000, 400_000) == [(first, last)]
    # A district's month (~1.8 million rows, 400,000 a part): six days a part, five parts.
    parts = reports.split_days(first, last, 1_800_000, 400_000)
    assert parts == [
        (first + timedelta(days=d), first + timedelta(days=d + 5)) for d in (0, 6, 12, 18, 24)
    ]
    # More rows than a part holds in a single day: a day a part, never less.
    assert reports.split_days(first, date(2026, 11, 3), 10**9, 1) == [
        (date(2026, 11, d), date(2026, 11, d)) for d in (1, 2, 3)
    ]
    # The last part takes what is left.
    assert reports.split_days(first, date(2026, 11, 7), 7, 3) == [
        (date(2026, 11, 1), date(2026, 11, 3)),
        (date(2026, 11, 4), date(2026, 11, 6)),
        (date(2026, 11, 7), date(2026, 11, 7)),
    ]
