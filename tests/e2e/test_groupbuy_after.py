"""Issue 17, a group-buy's last mile: the doors marked by the carrying volunteer, each household
confirming receipt (✅ 已收到, once; a press on the older message acts on nothing), one
reporting an item missing (which item, what, a typed note) that reaches the merchant (the door,
no name or phone) and the community staff (with the household) as an alert staff mark handled;
payment per household (the volunteer's 💵 cash at the door, the household's 💰 已付款, staff's
💵 on /gbcheck, each once); and nothing about a household in a log line."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.errors import Refused
from bot.services.groupbuys import accounts, buys, doors, merchants, orders, problems
from models import GroupBuy, GroupBuyDoor, GroupBuyProblem, Merchant, Staff, StaffAlert, StaffRole
from tests.conftest import make_settings
from tests.e2e.test_groupbuys import GOOD_CSV, MERCHANT, add_merchant, card_of, data, press
from tests.e2e.test_ledger import _export
from tests.factories import (
    GROUP_1,
    LEDGER_SHEETS,
    STAFF,
    Harness,
    Person,
    Z,
    buttons,
    door_photo,
    png,
    text_of,
)
from tests.privacy_guard import Personal, find_leaks

HOUSEHOLDS = [
    (3001, "钱阿姨", "1", "101", "13811110001"),
    (3002, "孙大爷", "1", "102", "13811110002"),
    (3003, "郑女士", "2", "201", "13811110003"),
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, limits={"messages_per_minute": 600})


async def delivered_group_buy(h: Harness, *extra: str, deliver: bool = True) -> list[Person]:
    """A group-buy of 幸福小区 1栋 (three households: 白菜 and 鸡蛋), closed, confirmed and
    delivered to the point (through the services; tests/e2e/test_groupbuys.py walks those
    screens)."""
    await add_merchant(h)
    async with h.rt.db.session() as s:
        m = await s.scalar(select(Merchant))
        assert m is not None
        await merchants.import_products(s, h.rt.clock, None, m, GOOD_CSV)
    homes = [
        await h.register(tid, name, "xf1", unit, room, phone=phone)
        for tid, name, unit, room, phone in HOUSEHOLDS
    ]
    at = (h.rt.clock.now() + timedelta(hours=1)).astimezone(ZoneInfo(h.rt.timezone))
    async with h.rt.db.session() as s:
        words = ["爱心超市", "xf1", f"{at:%Y-%m-%d}", f"{at:%H:%M}"]
        await buys.open_from_args(
            h.rt, s, STAFF, [*words, f"{at + timedelta(days=1):%Y-%m-%d}", "白菜", "鸡蛋", *extra]
        )
    for home, (cabbage, eggs) in zip(homes, [(1, 1), (2, 1), (0, 2)], strict=True):
        card = await card_of(h, home)
        for _ in range(cabbage):
            await press(h, home, card, "a", int(data(card)[2].split(":")[2]))
        for _ in range(eggs):
            await press(h, home, card, "a", int(data(card)[5].split(":")[2]))
    h.advance(hours=1, minutes=1)
    async with h.rt.db.session() as s:
        assert await orders.close(h.rt, s, 1)
    async with h.rt.db.session() as s:
        await orders.confirm(h.rt, s, STAFF, 1)
    if deliver:
        await to_the_point(h)
    return homes


async def to_the_point(h: Harness) -> None:
    """The merchant's 📦 with a photo (through the service)."""
    async with h.rt.db.session() as s:
        await orders.delivered(h.rt, s, MERCHANT, 1, door_photo(h))
    h.rt.wake_outbox()
    await h.settle()


async def door_row(h: Harness, resident_tid: int) -> GroupBuyDoor:
    from models import Resident

    async with h.rt.db.read() as s:
        row = await s.scalar(
            select(GroupBuyDoor)
            .join(Resident, Resident.id == GroupBuyDoor.resident_id)
            .where(Resident.telegram_id == resident_tid)
        )
    assert row is not None
    return row


def has_data(prefix: str) -> Any:
    return lambda m: any(d.startswith(prefix) for d in data(m))


async def test_doors_receipts_a_missing_item_and_payments(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h = harness
    staff, merchant, wang = h.person(STAFF), h.person(MERCHANT, "超市老板"), h.person(2001)
    for p in (staff, merchant, wang):
        p.say("/help")
    homes = await delivered_group_buy(h)
    qian, sun, zheng = homes

    # 王刚 takes 1栋 in the group; the packing list comes privately, each door with its amount.
    post = await h.emu.wait_for(GROUP_1, lambda m: "gb:tk:1" in data(m), 15, after_message_id=0)
    await wang.press_data(post, "gb:tk:1", chat_id=GROUP_1)
    await h.settle()
    sheet = await wang.expect(has_data("gb:dd:"))
    # 白菜 ¥3.50, 鸡蛋 ¥12.00: 钱 15.50, 孙 19.00, 郑 24.00.
    assert "1-101: 白菜 ×1, 鸡蛋 ×1 · ¥15.50" in text_of(sheet)
    for mark in [d for d in data(sheet) if d.startswith("gb:dd:")]:
        await wang.press_data(sheet, mark, force=True)
        await h.settle()

    # Each household's door message: what it took and owes, ✅ 已收到, ⚠️, 💰.
    at_door = [await p.expect(has_data("gb:rc:")) for p in homes]
    assert Z(doors.AT_DOOR) in text_of(at_door[0]) and "¥15.50" in text_of(at_door[0])
    assert Z(doors.PAYMENT[doors.ON_DELIVERY]) in text_of(at_door[0])
    assert {Z(doors.PROBLEM_BUTTON), Z(doors.PAID_BUTTON)} <= {t for t, _d in buttons(at_door[0])}

    # ✅ received, once: the message shows it; a press on it again acts on nothing.
    await qian.press(at_door[0], Z(doors.RECEIVED_BUTTON))
    shown = await h.wait_edit(3001, at_door[0]["message_id"], lambda m: not has_data("gb:rc:")(m))
    assert Z(doors.RECEIVED_LINE) in text_of(shown)
    first = (await door_row(h, 3001)).received_at
    assert first is not None
    h.advance(minutes=5)
    again = await qian.press_data(at_door[0], data(at_door[0])[0], force=True)
    assert again is not None and Z(doors.ALREADY_RECEIVED) in again.get("text", "")
    assert (await door_row(h, 3001)).received_at == first
    # Someone else's press on 钱's door changes nothing.
    nosy = await sun.press_data(at_door[1], data(at_door[0])[0], force=True)
    assert nosy is not None and nosy.get("show_alert")

    # 孙 reports: ⚠️ → which item (only those it took) → what → recorded; a typed note follows.
    await sun.press(at_door[1], Z(doors.PROBLEM_BUTTON))
    which = await sun.expect(Z(problems.WHICH))
    assert [t for t, _d in buttons(which)][:2] == ["白菜 ×2", "鸡蛋 ×1"]
    await sun.press(which, "鸡蛋")
    what = await h.wait_edit(3002, which["message_id"], has_data("gb:pk:"))
    await sun.press(what, Z(doors.KINDS["missing"]))
    await h.wait_edit(3002, which["message_id"], lambda m: Z(problems.REPORTED) in text_of(m))
    sun.say("只收到半盒")
    await sun.expect(Z(problems.NOTE_ADDED))
    await h.settle()
    async with h.rt.db.read() as s:
        reports = list(await s.scalars(select(GroupBuyProblem)))
    assert [(p.kind, p.note) for p in reports] == [("missing", "只收到半盒")]
    # The merchant: the door, the item; never the name or the phone.
    to_merchant = await merchant.expect(lambda m: "1-102" in text_of(m) and "鸡蛋" in text_of(m))
    assert "少了" in text_of(to_merchant)
    note = await merchant.expect("只收到半盒")
    for m in (to_merchant, note):
        assert "孙大爷" not in text_of(m) and "13811110002" not in text_of(m)
    # Staff: an alert with the household, so they can follow up, and ✅ 已处理.
    alert = await staff.expect(lambda m: "孙大爷" in text_of(m) and "sa:ok:" in str(buttons(m)))
    assert "13811110002" in text_of(alert) and "鸡蛋" in text_of(alert)
    assert "王刚" in text_of(alert)
    await staff.expect(lambda m: "只收到半盒" in text_of(m) and "孙大爷" in text_of(m))
    # The same item again: already reported, nothing new.
    dup = await sun.press_data(what, data(what)[0], force=True)
    assert dup is not None and Z(problems.ALREADY_REPORTED) in dup.get("text", "")
    assert await h.count(GroupBuyProblem) == 1

    # Payment: 王刚 takes 钱's cash at the door (💵 on the list); 郑 presses 💰 herself.
    listed = await h.wait_edit(2001, sheet["message_id"], has_data("gb:pc:"))
    qian_door = (await door_row(h, 3001)).id
    await wang.press_data(listed, doors.cash_data(qian_door))
    await h.wait_edit(
        2001, sheet["message_id"], lambda m: doors.cash_data(qian_door) not in data(m)
    )
    await zheng.press(at_door[2], Z(doors.PAID_BUTTON))
    await h.wait_edit(3003, at_door[2]["message_id"], lambda m: Z(doors.PAID_LINE) in text_of(m))
    zheng_door = (await door_row(h, 3003)).id
    twice = await zheng.press_data(at_door[2], doors.paid_data(zheng_door), force=True)
    assert twice is not None and Z(doors.ALREADY_PAID) in twice.get("text", "")
    paid = {tid: (await door_row(h, tid)).paid_how for tid in (3001, 3002, 3003)}
    assert paid == {3001: doors.CASH, 3002: None, 3003: doors.RESIDENT}

    # 🧾 on the staff's summary (as /gbcheck 1): the open problem and who has not paid (孙
    # only), in staff's private chat.
    summary = next(m for m in staff.chat() if "gb:ck:1" in data(m))
    await staff.press_data(summary, "gb:ck:1")
    check = await staff.expect(Z(accounts.OPEN_PROBLEMS))
    body = text_of(check)
    assert "幸福小区 1栋 1-102 孙大爷: 鸡蛋 少了" in body
    assert "¥19.00" in body and "钱阿姨" not in body.split(Z(accounts.UNPAID))[1]
    await staff.press(check, Z(accounts.HANDLE).split(" ")[0])
    handled = await h.wait_edit(
        STAFF, check["message_id"], lambda m: Z(accounts.NO_PROBLEMS) in text_of(m)
    )
    async with h.rt.db.read() as s:
        assert (
            await s.scalar(select(StaffAlert.handled_by).where(StaffAlert.kind == "gb_problem"))
        ) == STAFF
    sun_door = (await door_row(h, 3002)).id
    await staff.press_data(handled, accounts.staff_cash_data(sun_door))
    await h.wait_edit(STAFF, check["message_id"], lambda m: Z(accounts.ALL_PAID) in text_of(m))
    assert (await door_row(h, 3002)).paid_how == doors.STAFF
    # A resident's forged 💵 changes nothing.
    stranger = await zheng.press_data(at_door[2], accounts.staff_cash_data(sun_door), force=True)
    assert stranger is not None and stranger.get("show_alert")

    # The ledger (/export, staff's private chat) has a sheet for the group-buy: a line per
    # household with its door, items, amount, delivery, receipt, payment and problems.
    wb, _csv, _doc = await _export(h, staff)
    assert wb.sheetnames == [*LEDGER_SHEETS, "团购 #1 爱心超市"]
    rows = [list(r) for r in wb["团购 #1 爱心超市"].iter_rows(values_only=True)]
    assert rows[0] == [
        "楼栋",
        "门牌",
        "居民",
        "电话",
        "商品",
        "金额（元）",
        "付款方式",
        "送达时间",
        "确认收到时间",
        "付款",
        "付款时间",
        "问题",
    ]
    lines = {r[1]: r for r in rows[1:4]}
    assert lines["1-101"][:7] == [
        "幸福小区 1栋",
        "1-101",
        "钱阿姨",
        "13811110001",
        "白菜 ×1, 鸡蛋 ×1",
        15.5,
        "货到付款",
    ]
    assert all(isinstance(r[7], datetime) for r in lines.values())  # all at their doors
    assert isinstance(lines["1-101"][8], datetime) and lines["1-102"][8] is None
    assert [lines[d][9] for d in ("1-101", "1-102", "2-201")] == [
        "现金，志愿者登记",
        "工作人员登记",
        "居民确认",
    ]
    assert lines["1-102"][11] == "鸡蛋 少了 “只收到半盒” (已处理)"
    assert lines["2-201"][11] is None or lines["2-201"][11] == ""
    assert rows[4][0] == "合计：3" and rows[4][5] == 58.5

    # A grid leader sees the households of their grid only: of another grid, nothing.
    async with h.rt.db.session() as s:
        for tid, grid in ((9101, 1), (9102, 2)):
            s.add(
                Staff(
                    telegram_id=tid,
                    name=f"网格长{grid}",
                    role=StaffRole.GRID_LEADER,
                    grid_id=grid,
                    created_at=h.rt.clock.now(),
                )
            )
    async with h.rt.db.read() as s:
        assert (await accounts.check(s, 9101, 1)).doors == 3
        with pytest.raises(Refused):
            await accounts.check(s, 9102, 1)

    # Nothing about a household reached a log line.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    people = [Personal(name, phone, unit, room) for _t, name, unit, room, phone in HOUSEHOLDS]
    assert not find_leaks(logged, people)


async def test_paid_online_in_advance(harness: Harness) -> None:
    """ "预付" when opening: the group-buy is paid online; the door message says so and the
    volunteer's list offers no cash button."""
    h = harness
    staff, wang, merchant = h.person(STAFF), h.person(2001), h.person(MERCHANT, "超市老板")
    for p in (staff, wang, merchant):
        p.say("/help")
    homes = await delivered_group_buy(h, "预付", deliver=False)
    # At the close each household is told what it owes, with 💰: 孙 pays and presses it.
    owe = await homes[1].expect(has_data("gb:pa:"))
    assert "¥19.00" in text_of(owe) and Z(doors.PAID_BUTTON) in str(buttons(owe))
    await homes[1].press(owe, Z(doors.PAID_BUTTON))
    await h.wait_edit(3002, owe["message_id"], lambda m: Z(doors.PAID_LINE) in text_of(m))
    again = await homes[1].press_data(owe, data(owe)[0], force=True)
    assert again is not None and Z(doors.ALREADY_PAID) in again.get("text", "")
    assert (await door_row(h, 3002)).paid_how == doors.RESIDENT
    # Before the goods arrive: staff mark who paid online (/gbcheck from the close on).
    staff.say("/gbcheck")
    check = await staff.expect(Z(accounts.UNPAID))
    assert "¥15.50" in text_of(check) and "钱阿姨" in text_of(check)
    qian_door = (await door_row(h, 3001)).id
    await staff.press_data(check, accounts.staff_cash_data(qian_door))
    await h.wait_edit(STAFF, check["message_id"], lambda m: "钱阿姨" not in text_of(m))
    assert (await door_row(h, 3001)).paid_how == doors.STAFF
    # Nobody can take a building's share before it is at the point.
    early = await wang.press_data(wang.chat()[-1], "gb:tk:1", force=True)
    assert early is not None and early.get("show_alert")
    await to_the_point(h)
    # Residents knew before taking part: the announcement said so.
    assert any("付款方式：在线预付" in text_of(m) for m in homes[0].chat())
    async with h.rt.db.read() as s:
        gb = await s.get(GroupBuy, 1)
        assert gb is not None and gb.payment == doors.ONLINE
    post = await h.emu.wait_for(GROUP_1, lambda m: "gb:tk:1" in data(m), 15, after_message_id=0)
    await wang.press_data(post, "gb:tk:1", chat_id=GROUP_1)
    await h.settle()
    sheet = await wang.expect(has_data("gb:dd:"))
    await wang.press_data(sheet, data(sheet)[0])
    await h.settle()
    at_door = await homes[0].expect(has_data("gb:rc:"))
    assert Z(doors.PAYMENT[doors.ONLINE]) in text_of(at_door)
    # Paid already (staff's mark): the door message says so and has no 💰.
    assert Z(doors.PAID_HOW[doors.STAFF]) in text_of(at_door)
    assert not has_data("gb:py:")(at_door)
    listed = await h.wait_edit(2001, sheet["message_id"], lambda m: "✅" in text_of(m))
    assert not [d for d in data(listed) if d.startswith("gb:pc:")]

    # A damaged item reported with a photo: the merchant gets the photo with the door.
    await homes[0].press(at_door, Z(doors.PROBLEM_BUTTON))
    which = await homes[0].expect(Z(problems.WHICH))
    await homes[0].press(which, "白菜")
    what = await h.wait_edit(3001, which["message_id"], has_data("gb:pk:"))
    await homes[0].press(what, Z(doors.KINDS["damaged"]))
    await h.wait_edit(3001, which["message_id"], lambda m: Z(problems.REPORTED) in text_of(m))
    h.emu.send_photo(3001, png(4, 4))
    await homes[0].expect(Z(problems.NOTE_ADDED))
    await h.settle()
    shot = await merchant.expect(lambda m: "photo" in m and "1-101" in text_of(m))
    assert "钱阿姨" not in text_of(shot)
    async with h.rt.db.read() as s:
        report = await s.scalar(select(GroupBuyProblem))
    assert report is not None and report.kind == "damaged" and report.photo

    # Another item, then 完成 without a note: the report stands, the message says so.
    await homes[0].press(at_door, Z(doors.PROBLEM_BUTTON))
    which = await homes[0].expect(Z(problems.WHICH))
    assert [t for t, _d in buttons(which)][:2] == ["鸡蛋 ×1", "✖️ 取消"]  # 白菜 is reported
    await homes[0].press(which, "鸡蛋")
    what = await h.wait_edit(3001, which["message_id"], has_data("gb:pk:"))
    await homes[0].press(what, Z(doors.KINDS["wrong"]))
    asked = await h.wait_edit(3001, which["message_id"], has_data("gb:pd:"))
    await homes[0].press(asked, Z(problems.DONE_BUTTON))
    await h.wait_edit(3001, which["message_id"], lambda m: Z(problems.REPORTED_DONE) in text_of(m))
    assert await h.count(GroupBuyProblem) == 2
