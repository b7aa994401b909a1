"""Staff see what is going on with /stats (and its buttons), get the ledger with /export as an
XLSX workbook and a CSV file, residents are refused, and the daily summary comes once, also
across a restart."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select

from bot.limits import TEXT_LIMIT, tg_len
from bot.services import reports
from bot.services.orders import texts
from bot.services.scope import NOT_STAFF
from handlers import reports as report_handlers
from models import AuditEntry, Order, OrderEvent, OrderStatus, Volunteer, VolunteerStatus
from tests.factories import STAFF, Harness, Person, Z, buttons, text_of
from tests.unit.test_orders import _order, _resident


def _docs(h: Harness, chat_id: int) -> list[dict]:
    return [m for m in h.emu.messages(chat_id) if m["outgoing"] and m.get("document")]


async def _staff_and_an_order_at_ten(h: Harness) -> tuple[Person, int]:
    """The clock moved to tomorrow at 10:00 local time (an order and the hours around it stay on
    one day whenever the test runs: from 23:15 on, "today" would otherwise have no order), the
    staff member 赵书记, and a resident's order placed then (its id)."""
    now = h.rt.clock.now()
    local = now.astimezone(ZoneInfo(h.rt.timezone))
    morning = datetime.combine(local.date() + timedelta(days=1), time(10), local.tzinfo)
    h.advance(seconds=(morning - now).total_seconds())
    boss = h.person(STAFF, "赵书记")
    await _resident(h.rt)
    order_id = await _order(h.rt)
    await h.settle()
    return boss, order_id


async def test_stats_and_export_for_staff_not_residents(harness: Harness) -> None:
    h = harness
    boss, order_id = await _staff_and_an_order_at_ten(h)
    h.advance(minutes=45)

    boss.say("/stats")
    shown = await boss.expect(Z("📊 Orders {period}: {n}"))
    text = text_of(shown)
    assert "：1 单" in text and f"#{order_id} 第一网格" in text and "已等 45 分钟" in text
    assert {d for _, d in buttons(shown)} >= {"rp:s:today", "rp:s:yesterday", "rp:s:7d"}

    # 昨天: the same message, now with yesterday's (no) orders.
    await boss.press_data(shown, "rp:s:yesterday")
    shown = await h.wait_edit(STAFF, shown["message_id"], lambda m: "：0 单" in text_of(m))

    boss.say("/stats 2026-13-01")
    await boss.expect(Z(reports.BAD_DATES))
    boss.say("/export 2026-11-23 2026-11-01")
    await boss.expect(lambda m: "/export 2026-11-01 2026-11-23" in text_of(m))

    boss.say("/export")
    await boss.expect(
        lambda m: bool(m.get("document")) and m["document"]["file_name"].endswith(".csv")
    )
    xlsx, csv_doc = _docs(h, STAFF)[-2:]
    assert xlsx["document"]["file_name"].endswith(".xlsx")
    assert text_of(xlsx).startswith("📒 台账") and "订单" in text_of(xlsx)
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(xlsx["document"]["file_id"])))
    *rows, totals = wb["订单"].iter_rows(min_row=2, values_only=True)
    assert totals[0] == "合计：1"
    async with h.rt.db.read() as s:
        o = await s.get(Order, order_id)
        exported = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "report.exported"))
        )
    assert o is not None
    assert [(r[0], r[8]) for r in rows] == [(order_id, o.contact_phone)]
    assert rows[0][12] == reports.ZH(texts.STATUS["open"])
    assert h.emu.file_bytes(csv_doc["document"]["file_id"]).startswith(b"\xef\xbb\xbf")
    assert [(a.actor_telegram_id, a.action) for a in exported] == [(STAFF, "report.exported")]

    # The export button of /stats (now for yesterday) sends the files too.
    await boss.press_data(shown, next(d for _, d in buttons(shown) if d.startswith("rp:x:")))
    await boss.expect(
        lambda m: bool(m.get("document")) and m["document"]["file_name"].endswith(".csv")
    )
    assert len(_docs(h, STAFF)) == 4

    # A resident is refused both.
    aunt = h.person(1001)
    aunt.say("/stats")
    await aunt.expect(Z(NOT_STAFF))
    aunt.say("/export")
    await aunt.expect(Z(NOT_STAFF))
    await h.settle()
    assert _docs(h, 1001) == []


async def test_daily_summary_once_across_sweeps_and_a_restart(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()  # the test counts what its own sweep fires
    h.rt.settings.reports.daily_summary_at = "20:00"
    boss = h.person(STAFF, "赵书记")
    boss.say("/help")
    await h.settle()
    tz = ZoneInfo(h.rt.timezone)
    now = h.rt.clock.now().astimezone(tz)
    hh, mm = (int(x) for x in h.rt.settings.reports.daily_summary_at.split(":"))
    at = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if at <= now + timedelta(minutes=2):
        at += timedelta(days=1)
    h.advance(seconds=(at - now).total_seconds() - 60)
    await h.sweep()
    title = Z(reports.SUMMARY_TITLE)

    def summaries() -> list[dict]:
        return [m for m in boss.chat() if text_of(m).startswith(title)]

    assert summaries() == []
    h.advance(minutes=2)
    fired = await h.sweep()
    assert fired["daily summary"] == 1
    assert len(summaries()) == 1
    assert Z("✅ Nothing unclaimed for more than {n} minutes.") in text_of(summaries()[0])
    await h.sweep()
    await h.restart()
    await h.sweep()
    assert len(summaries()) == 1
    # The next day at the same time, the next one.
    h.advance(days=1)
    await h.sweep()
    assert len(summaries()) == 2


async def _crowd(h: Harness, order_id: int, waiting: int, volunteers: int) -> None:
    """``waiting`` more open tasks like ``order_id``, the k-th created k minutes before it,
    and ``volunteers`` more volunteers of its grid who each claimed one more task today."""
    async with h.rt.db.session() as s:
        row = dict(
            (await s.execute(select(Order.__table__).where(Order.id == order_id))).one()._mapping
        )
        del row["id"]
        t0 = row["created_at"]
        await s.execute(
            insert(Order.__table__),
            [{**row, "created_at": t0 - timedelta(minutes=k)} for k in range(1, waiting + 1)],
        )
        claimed = [
            {**row, "status": OrderStatus.CLAIMED, "claimed_at": t0} for _ in range(volunteers)
        ]
        await s.execute(insert(Order.__table__), claimed)
        ids = list(
            await s.scalars(
                select(Order.id).where(Order.status == OrderStatus.CLAIMED).order_by(Order.id)
            )
        )
        for k, oid in enumerate(ids):
            tid = 7_000_000 + k
            s.add(
                Volunteer(
                    telegram_id=tid,
                    name=f"志愿者{k:03d}号",
                    grid_id=row["grid_id"],
                    status=VolunteerStatus.APPROVED,
                    created_at=t0,
                )
            )
            s.add(
                OrderEvent(
                    order_id=oid,
                    actor="volunteer",
                    actor_telegram_id=tid,
                    from_status=OrderStatus.OPEN,
                    to_status=OrderStatus.CLAIMED,
                    at=t0,
                )
            )


async def test_stats_of_a_busy_district_fit_one_message(harness: Harness) -> None:
    """An admin's /stats over 300 tasks waiting and 80 volunteers (once 12,000 characters:
    Telegram refused it) is one message: the longest-waiting tasks and the busiest volunteers
    first, then how many more, and the totals of all of them."""
    h = harness
    # At 10:00, the tasks created up to 5 hours earlier are of the same day.
    boss, order_id = await _staff_and_an_order_at_ten(h)
    await _crowd(h, order_id, waiting=300, volunteers=80)
    h.advance(minutes=45)

    boss.say("/stats")
    shown = await boss.expect(Z("📊 Orders {period}: {n}"))
    text = text_of(shown)
    assert tg_len(text) <= TEXT_LIMIT
    waiting_lines = [line for line in text.splitlines() if line.startswith("• #")]
    assert len(waiting_lines) == reports.SHOWN_WAITING
    # Oldest first: the task created 300 minutes before the first one waits 345 minutes.
    assert "已等 345 分钟" in waiting_lines[0] and "已等 331 分钟" in waiting_lines[-1]
    assert f"…还有 {301 - reports.SHOWN_WAITING} 单在等。" in text
    vol_lines = [line for line in text.splitlines() if line.startswith("• 志愿者")]
    assert len(vol_lines) == reports.SHOWN_VOLUNTEERS
    assert f"…还有 {80 - reports.SHOWN_VOLUNTEERS} 位志愿者（完整名单见 /export）。" in text
    assert "：381 单" in text  # the total counts every order, shown or not
    assert {d for _, d in buttons(shown)} >= {"rp:s:today", "rp:s:7d"}


async def test_a_ledger_too_big_for_telegram_is_not_sent_but_explained(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A month of a district's ledger is over the 50 MB Telegram lets a bot send: the staff
    member is told its size and a shorter range to ask for, not "try again"."""
    h = harness
    monkeypatch.setattr(report_handlers, "DOCUMENT_LIMIT", 2_500_000)
    monkeypatch.setattr(reports, "export_parts", _sized(10_000_000))
    boss = h.person(STAFF, "赵书记")
    boss.say("/export 2026-11-01 2026-11-30")
    told = await boss.expect(Z(report_handlers.TOO_BIG), timeout=30)
    assert text_of(told) == (
        "2026-11-01 – 2026-11-30 的台账有 10 MB，超过 Telegram 允许机器人发送的上限（2 MB）。"
        "请少选几天导出，例如 /export 2026-11-01 2026-11-06。"
    )
    await h.settle()
    assert _docs(h, STAFF) == []
    async with h.rt.db.read() as s:
        assert (
            list(
                await s.scalars(select(AuditEntry.id).where(AuditEntry.action == "report.exported"))
            )
            == []
        )


def _sized(size: int) -> Any:
    async def export_parts(
        _url: str, _scope: Any, ranges: list[Any], _tz: str, _language: str
    ) -> AsyncIterator[reports.Part]:
        for n, (first, last) in enumerate(ranges, 1):
            yield reports.Part(first, last, reports.Export(b"x" * size, b"y", 1), n, len(ranges))

    return export_parts
