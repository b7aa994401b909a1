"""The ledger a secretary hands in, through the bot's /export: sized columns, a filtered and
frozen heading row, totals, the care register with the day's check-in, the audit log and the
notices in words; the CSV beside it one line per order; in the staff member's language, and
only to their private chat."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from bot.services import care, people
from bot.services.notices import sending
from models import Building, CareCheck, Resident
from tests.e2e.test_phone_orders import fill_form, new_household
from tests.e2e.test_reports import _staff_and_an_order_at_ten
from tests.factories import GROUP_1, GROUP_2, LEDGER_SHEETS, STAFF, Harness, Person, text_of


def _is_csv(m: dict[str, Any]) -> bool:
    return bool(m.get("document")) and m["document"]["file_name"].endswith(".csv")


def _docs(h: Harness, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in h.emu.messages(chat_id) if m.get("document")]


async def _care_and_a_notice(h: Harness) -> None:
    """赵书记 marks 周阿姨 (elderly, living alone) and names herself responsible; 周阿姨 asked
    today to be called; a notice goes to her building."""
    async with h.rt.db.session() as s:
        rid = await s.scalar(select(Resident.id).where(Resident.telegram_id == 1001))
        building = await s.scalar(select(Building).where(Building.code == "xf2"))
        assert rid is not None and building is not None
        await care.toggle_flag(h.rt, s, STAFF, rid, "elderly_alone")
        await care.assign(h.rt, s, STAFF, rid, "me")
        s.add(
            CareCheck(resident_id=rid, day=h.rt.today(), asked_at=h.rt.clock.now(), answer="call")
        )
        await sending.create(h.rt, s, STAFF, "building", f"b{building.id}", "明天上午核酸检测")
    await h.settle()


async def _export(h: Harness, boss: Person) -> tuple[Any, bytes, dict[str, Any]]:
    """/export; the workbook, the CSV's bytes and the workbook's message."""
    before = len([m for m in boss.chat() if _is_csv(m)])
    boss.say("/export")
    await boss.expect(
        lambda m: _is_csv(m) and len([x for x in boss.chat() if _is_csv(x)]) > before, timeout=60
    )
    xlsx = [m for m in _docs(h, STAFF) if m["document"]["file_name"].endswith(".xlsx")][-1]
    csv_doc = [m for m in _docs(h, STAFF) if _is_csv(m)][-1]
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(xlsx["document"]["file_id"])))
    return wb, h.emu.file_bytes(csv_doc["document"]["file_id"]), xlsx


def _rows(ws: Any) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


async def test_export_gives_a_ledger_to_hand_in(harness: Harness) -> None:
    h = harness
    boss, order_id = await _staff_and_an_order_at_ten(h)
    await _care_and_a_notice(h)

    wb, csv_bytes, xlsx = await _export(h, boss)
    assert xlsx["document"]["file_name"].startswith("台账_")
    assert "关爱名单" in text_of(xlsx)
    assert wb.sheetnames == LEDGER_SHEETS
    ws = wb["订单"]
    head = [c.value for c in ws[1]]
    last = ws.cell(1, len(head)).column_letter
    assert (ws.freeze_panes, ws.auto_filter.ref) == ("A2", f"A1:{last}2")
    assert [ws["A2"].value, ws["A3"].value] == [order_id, "合计：1"]
    phone = ws.cell(1, head.index("联系电话") + 1).column_letter
    assert ws.column_dimensions[phone].width == len("13800001001") + 2

    care_rows = _rows(wb["关爱名单"])
    row = dict(zip(care_rows[0], care_rows[1], strict=True))
    assert (row["姓名"], row["楼栋"], row["包保责任人"]) == ("周阿姨", "幸福小区 2栋", "赵书记")
    assert (row["问候次数"], row["请求来电"], row[h.rt.today().strftime("%m-%d")]) == (
        1,
        1,
        "请来电",
    )
    assert care_rows[-1][0] == "合计：1"

    notices = _rows(wb["通知"])
    assert notices[1][notices[0].index("发往")] == "幸福小区 2栋"
    audit = _rows(wb["操作记录"])
    done = [(r[1], r[3], r[4]) for r in audit[1:]]
    assert done[:3] == [
        ("赵书记", "关爱名单：添加标记", "周阿姨"),
        ("赵书记", "关爱名单：指定包保责任人", "周阿姨"),
        ("赵书记", "发送通知", "楼栋：幸福小区 2栋"),
    ]
    assert not [c for r in audit[1:] for c in r[3:] if "resident:" in c or "{" in c]

    # The CSV: the orders sheet's headings and rows, one line per order, no totals row.
    lines = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8").lstrip("\ufeff"))))
    assert lines[0] == head and [int(x[0]) for x in lines[1:]] == [order_id]

    # In English for a staff member who reads English.
    async with h.rt.db.session() as s:
        await people.set_language(s, h.rt.clock, STAFF, "en")
    wb, csv_bytes, xlsx = await _export(h, boss)
    assert xlsx["document"]["file_name"].startswith("Ledger_")
    assert text_of(xlsx).startswith("📒 Ledger")
    assert "Care register" in wb.sheetnames and wb["Orders"]["A3"].value == "Total: 1"
    audit = _rows(wb["Audit log"])
    assert [r[3] for r in audit[1:3]] == [
        "Care list: flag set",
        "Care list: responsible person named",
    ]
    assert csv_bytes.decode("utf-8").lstrip("\ufeff").startswith("Order no.,")

    # The ledger went to the staff member's private chat only.
    await h.settle()
    assert _docs(h, GROUP_1) == [] and _docs(h, GROUP_2) == [] and _docs(h, 1001) == []


async def test_the_ledger_says_who_took_an_order_by_phone(harness: Harness) -> None:
    """代下单人: the name of whoever entered an order taken by phone; empty for the bot's."""
    h = harness
    boss = h.person(STAFF, "赵书记")
    # The phone order first: its form may move the clock to the next morning (after 21:00).
    by_phone = await fill_form(h, boss, await new_household(h, boss), "groceries")
    await h.register(1001, "周阿姨")
    by_bot = await h.order_by_service(1001)
    await h.settle()

    today = h.rt.today().isoformat()
    boss.say(f"/export {today} {today}")
    await boss.expect(lambda m: _is_csv(m), timeout=60)
    xlsx = [m for m in _docs(h, STAFF) if m["document"]["file_name"].endswith(".xlsx")][-1]
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(xlsx["document"]["file_id"])))
    rows = _rows(wb["订单"])
    head = rows[0]
    assert head[-2:] == ["下单方式", "代下单人"]
    got = {r[0]: (r[-2], r[-1]) for r in rows[1:-1]}
    assert got == {by_bot: ("机器人", None), by_phone: ("电话点单", "赵书记")}
