"""Issue 17: partner merchants and building group-buys (团购 / 接龙), end to end. A merchant
added on the command line, its product list sent to the bot (a bad file refused line by line
and nothing imported; a re-import updating by name); a group-buy for two buildings announced
through the notices to five households, ＋/－ on one card with the total live, two presses at
once both counted, a press after the deadline changing nothing; the sweep closing it once
(also across a restart); staff's ✅; the merchant's order and its XLSX of lines per door in
the merchant's private chat; 📦 delivered with a photo; each building's share taken by one
volunteer of its grid in the group, the doors in their private chat, each marked once."""

from __future__ import annotations

import asyncio
import io
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Settings
from bot.services.groupbuys import merchants, packing, texts
from cli.main import build_parser
from cli.merchant import run_merchant
from models import (
    GroupBuy,
    GroupBuyItem,
    GroupBuyLine,
    GroupBuyRun,
    Merchant,
    Notice,
    NoticeDelivery,
    Product,
)
from tests.conftest import make_settings
from tests.e2e.test_zh_screens import english_in, seen_texts
from tests.factories import (
    GROUP_1,
    GROUP_2,
    STAFF,
    Harness,
    Person,
    Z,
    button_data,
    buttons,
    door_photo,
    png,
    text_of,
)

MERCHANT = 5550001
ASK_WHEN = "Until when may residents sign up? Type HH:MM (today) or YYYY-MM-DD HH:MM."
GOOD_CSV = "name,unit,price\n白菜,斤,3.50\n鸡蛋,盒,12\n大米,袋,45\n"
BAD_CSV = "name,unit,price\n白菜,斤,3.50\n鸡蛋,,abc\n=cmd,袋,1\n"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Residents press ＋ many times within a minute here.
    return make_settings(database_url, limits={"messages_per_minute": 600})


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def add_merchant(h: Harness) -> None:
    """`paotui merchant add`, as staff type it."""
    args = build_parser().parse_args(
        [
            "merchant",
            "add",
            "--name",
            "爱心超市",
            "--kind",
            "超市",
            "--contact",
            str(MERCHANT),
            "--community",
            "xingfu",
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    assert await run_merchant(h.rt.settings, args, out, err) == 0, err.getvalue()
    assert "added" in out.getvalue()


async def import_by_bot(
    h: Harness, staff: Person, csv: str, caption: str = "商家 爱心超市"
) -> dict[str, Any]:
    h.emu.send_document(
        STAFF, csv.encode(), file_name="products.csv", mime_type="text/csv", caption=caption
    )
    return await staff.expect(lambda m: "商品清单" in text_of(m) or "第 " in text_of(m))


async def prices(h: Harness) -> dict[str, int]:
    async with h.rt.db.read() as s:
        return {p.name: p.price_fen for p in await s.scalars(select(Product))}


async def quantities(h: Harness) -> dict[tuple[int, str], int]:
    from models import GroupBuyItem, Resident

    async with h.rt.db.read() as s:
        rows = await s.execute(
            select(Resident.telegram_id, GroupBuyItem.name, GroupBuyLine.quantity)
            .join(Resident, Resident.id == GroupBuyLine.resident_id)
            .join(GroupBuyItem, GroupBuyItem.id == GroupBuyLine.item_id)
        )
        return {(tid, name): q for tid, name, q in rows.all() if q}


async def card_of(h: Harness, p: Person) -> dict[str, Any]:
    """The announcement reaches the household; 🛒 on it brings the card."""
    notice = await p.expect(lambda m: any(d.startswith("gb:j:") for d in data(m)))
    assert Z("🛒 Group-buy #{id}: {merchant} ({kind})") in text_of(notice)
    join = next(d for d in data(notice) if d.startswith("gb:j:"))
    await p.press_data(notice, join)
    return await p.expect(lambda m: any(d.startswith("gb:a:") for d in data(m)))


async def press(h: Harness, p: Person, card: dict[str, Any], verb: str, item: int) -> Any:
    answer = await p.press_data(card, f"gb:{verb}:{item}")
    await h.settle()
    return answer


def current(h: Harness, p: Person, card: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in h.emu.messages(p.user_id) if m["message_id"] == card["message_id"])


async def test_a_group_buy_from_product_list_to_delivery(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()
    staff = h.person(STAFF)
    merchant = h.person(MERCHANT, "超市老板")
    merchant.say("/help")  # the contact has started the bot
    await add_merchant(h)

    # The product list sent to the bot: a bad file is refused line by line, nothing imported.
    refused = await import_by_bot(h, staff, BAD_CSV)
    assert "第 3 行" in text_of(refused) and "第 4 行" in text_of(refused)
    assert await prices(h) == {}
    done = await import_by_bot(h, staff, GOOD_CSV)
    assert "爱心超市" in text_of(done) and "3" in text_of(done)
    # Re-imported: updated by name.
    await import_by_bot(h, staff, "name,unit,price\n白菜,斤,3.00\n", caption="商家：爱心超市")
    assert await prices(h) == {"白菜": 300, "鸡蛋": 1200, "大米": 4500}

    # Five households in two buildings, and one in a third building the group-buy is not for.
    homes = [
        await h.register(3001, "甲", "xf1", "1", "101"),
        await h.register(3002, "乙", "xf1", "1", "102"),
        await h.register(3003, "丙", "xf1", "2", "201"),
        await h.register(3004, "丁", "xf2", "1", "301"),
        await h.register(3005, "戊", "xf2", "3", "502"),
    ]
    elsewhere = await h.register(3006, "己", "xf3", "1", "101")
    tz = ZoneInfo(h.rt.timezone)
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(tz)
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf1,xf2 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3 鸡蛋:2")
    opened = await staff.expect(lambda m: "团购 #1" in text_of(m))
    assert "5" in text_of(opened)
    await h.settle()
    async with h.rt.db.read() as s:
        notices = list(await s.scalars(select(Notice).where(Notice.groupbuy_id == 1)))
        assert len(notices) == 2  # one per building: receipts per building
        deliveries = await s.scalar(select(NoticeDelivery.id).where(NoticeDelivery.chat_id == 3006))
    assert deliveries is None
    assert not [m for m in elsewhere.chat() if "团购 #" in text_of(m)]

    cards = [await card_of(h, p) for p in homes]
    cabbage = int(data(cards[0])[2].split(":")[2])  # the first row: －, 白菜 ×0, ＋
    eggs = int(data(cards[0])[5].split(":")[2])
    # 🛒 counts as the receipt of the announcement.
    async with h.rt.db.read() as s:
        confirmed = await s.scalar(
            select(NoticeDelivery.confirmed_at).where(NoticeDelivery.chat_id == 3001)
        )
    assert confirmed is not None

    # 甲: two presses at once are both counted; then one more than the limit is refused.
    a, card = homes[0], cards[0]
    await asyncio.gather(
        a.press_data(card, f"gb:a:{cabbage}"), a.press_data(card, f"gb:a:{cabbage}")
    )
    await h.settle()
    await press(h, a, card, "a", eggs)
    assert await quantities(h) == {(3001, "白菜"): 2, (3001, "鸡蛋"): 1}
    shown = await h.wait_edit(3001, card["message_id"], lambda m: "¥18.00" in text_of(m))
    assert "已参加: 白菜 ×2, 鸡蛋 ×1, ¥18.00" in text_of(shown)
    await press(h, a, card, "a", cabbage)
    over = await press(h, a, card, "a", cabbage)
    assert over is not None and Z("At most {limit} per household.") in over.get("text", "")
    # The others choose; 丙 changes their mind before the deadline.
    await press(h, homes[1], cards[1], "a", eggs)
    await press(h, homes[2], cards[2], "a", cabbage)
    await press(h, homes[2], cards[2], "a", eggs)
    await press(h, homes[2], cards[2], "r", cabbage)
    await press(h, homes[3], cards[3], "a", cabbage)
    await press(h, homes[4], cards[4], "a", eggs)
    await press(h, homes[4], cards[4], "a", eggs)
    want = {
        (3001, "白菜"): 3,
        (3001, "鸡蛋"): 1,
        (3002, "鸡蛋"): 1,
        (3003, "鸡蛋"): 1,
        (3004, "白菜"): 1,
        (3005, "鸡蛋"): 2,
    }
    assert await quantities(h) == want
    # Someone of another building pressing a forged ＋ changes nothing.
    own = elsewhere.chat()[-1]
    stray = await elsewhere.press_data(own, f"gb:a:{cabbage}", force=True)
    assert stray is not None and stray.get("show_alert")
    assert await quantities(h) == want

    # Past the deadline, before the sweep: a press changes nothing and shows the card closed.
    h.advance(hours=3, minutes=1)
    late = await press(h, homes[1], cards[1], "a", eggs)
    assert late is not None and Z(texts.CLOSED_ALERT) in late.get("text", "")
    closed = await h.wait_edit(3002, cards[1]["message_id"], lambda m: not buttons(m))
    assert Z(texts.CLOSED_AT).split("：")[0] in text_of(closed) and "鸡蛋 ×1" in text_of(closed)
    assert await quantities(h) == want

    # The sweep closes it once, also across a restart: staff get one summary with ✅.
    fired = await h.sweep()
    assert fired["group-buy deadlines"] == 1
    await h.restart()
    await h.own_the_sweep()
    assert (await h.sweep())["group-buy deadlines"] == 0
    summary = await staff.expect(lambda m: "gb:ok:1" in data(m))
    body = text_of(summary)
    # 白菜 4 × ¥3.00, 鸡蛋 5 × ¥12.00: ¥72.00; five households, three and two per building.
    assert "白菜 ×4" in body and "鸡蛋 ×5" in body and "¥72.00" in body
    assert "幸福小区 1栋：3 户" in body and "幸福小区 2栋：2 户" in body
    for name in ("甲", "乙", "丙", "丁", "戊", "101", "502"):
        assert name not in body
    assert len([m for m in staff.chat() if "gb:ok:1" in data(m)]) == 1

    # ✅: the merchant gets the consolidated order; a second press orders nothing again.
    await staff.press(summary, Z(texts.CONFIRM))
    await h.settle()
    ordered = await h.wait_edit(STAFF, summary["message_id"], lambda m: "gb:ok:1" not in data(m))
    assert data(ordered) == [
        "gb:ck:1"
    ]  # 🧾 receipts and payments (tests/e2e/test_groupbuy_after.py)
    assert Z("ordered from the merchant") in text_of(ordered)
    again = await staff.press_data(summary, "gb:ok:1", force=True)
    assert again is not None and Z("Already ordered from the merchant.") in again.get("text", "")
    order = await merchant.expect(lambda m: "gb:dl:1" in data(m))
    assert "白菜 ×4" in text_of(order) and "¥72.00" in text_of(order)
    await h.settle()
    assert len([m for m in merchant.chat() if "gb:dl:1" in data(m)]) == 1

    # /merchant: the merchant's view lists it.
    merchant.say("/merchant")
    listed = await merchant.expect(lambda m: "gb:xl:1" in data(m))
    # 📊: the XLSX of lines per building and per door, in the merchant's private chat.
    await merchant.press_data(listed, "gb:xl:1")
    doc = await merchant.expect(lambda m: "document" in m)
    wb = load_workbook(io.BytesIO(h.emu.file_bytes(doc["document"]["file_id"])))
    assert wb.sheetnames == ["汇总", "按楼栋", "按户"]
    totals = [tuple(r) for r in wb["汇总"].iter_rows(values_only=True)]
    assert totals[1] == ("白菜", "斤", 3.0, 4, 12.0)
    assert totals[2] == ("鸡蛋", "盒", 12.0, 5, 60.0)
    assert totals[3][0] == "合计" and totals[3][-1] == 72.0
    doors = [tuple(r) for r in wb["按户"].iter_rows(values_only=True)][1:]
    assert ("幸福小区 1栋", "1-101", "白菜", 3, 9.0) in doors
    assert ("幸福小区 2栋", "3-502", "鸡蛋", 2, 24.0) in doors
    assert len(doors) == 6
    by_building = [tuple(r) for r in wb["按楼栋"].iter_rows(values_only=True)][1:]
    assert ("幸福小区 1栋", "鸡蛋", 3, 36.0) in by_building
    # Someone else's press on 📊 gets nothing.
    nosy = await homes[0].press_data(cards[0], "gb:xl:1", force=True)
    assert nosy is not None and nosy.get("show_alert")

    # 📦 with a photo: delivered to the point, once; staff see the photo.
    await merchant.press_data(order, "gb:dl:1")
    await merchant.expect(Z(texts_send_photo()))
    h.emu.send_photo(MERCHANT, png(4, 4))
    await merchant.expect(
        Z("Thank you: marked delivered to {point}; the community staff are told.")
    )
    await h.settle()
    told = await staff.expect(lambda m: "photo" in m and "团购 #1" in text_of(m))
    assert "配送点" in text_of(told)
    async with h.rt.db.read() as s:
        gb = await s.get(GroupBuy, 1)
        assert gb is not None and gb.status == "delivered" and gb.delivered_photo
    # The merchant's order has lost 📦 and says where and when it was delivered; a stale 📦
    # (an older copy) does nothing twice.
    now = await h.wait_edit(MERCHANT, order["message_id"], lambda m: "gb:dl:1" not in data(m))
    assert "已于" in text_of(now) and "送达" in text_of(now) and "配送点" in text_of(now)
    twice = await merchant.press_data(order, "gb:dl:1", force=True)
    assert twice is not None and twice.get("show_alert")
    assert len([m for m in staff.chat() if "photo" in m]) == 1
    await split_by_building(h, homes)
    # Every screen of it in Chinese (as tests/e2e/test_zh_screens.py checks the main ones).
    chats = [STAFF, MERCHANT, 3001, 3002, 2001, GROUP_1]
    english = {
        (chat, t, w)
        for chat in chats
        for m in h.emu.messages(chat)
        if m["outgoing"]
        for t in seen_texts(m)
        for w in english_in(t, {"User2001", "XLSX", "xf"})
    }
    assert not english, english


async def split_by_building(h: Harness, homes: list[Person]) -> None:
    """At the point: each building's share is posted in its grid's group (no door, no name);
    one volunteer takes it, gets the doors privately and marks them; each household is told."""
    posts = [m for m in h.emu.messages(GROUP_1) if "团购 #1" in text_of(m)]
    assert len(posts) == 2 and not [m for m in h.emu.messages(GROUP_2) if "团购" in text_of(m)]
    first = next(m for m in posts if "幸福小区 1栋" in text_of(m))
    assert "3 户" in text_of(first) and "白菜 ×3" in text_of(first)
    for secret in ("101", "102", "201", "甲", "乙", "丙"):
        assert secret not in text_of(first)
    wang, li = h.person(2001), h.person(2002)
    wang.say("/help")
    li.say("/help")
    await h.settle()
    wang.seen = max([m["message_id"] for m in wang.chat()], default=0)
    took = await wang.press(first, "1栋", chat_id=GROUP_1)
    assert took is not None and Z(packing.YOURS_NOW) in took.get("text", "")
    late = await li.press_data(first, button_data(first)[0], chat_id=GROUP_1, force=True)
    assert late is not None and late.get("show_alert")
    post = await h.wait_edit(GROUP_1, first["message_id"], lambda m: not buttons(m))
    assert "王刚" in text_of(post)
    await h.settle()
    sheet = await wang.expect(lambda m: any(d.startswith("gb:dd:") for d in button_data(m)))
    assert "1-101: 白菜 ×3, 鸡蛋 ×1" in text_of(sheet) and "2-201: 鸡蛋 ×1" in text_of(sheet)
    assert not [m for m in li.chat() if "分拣单" in text_of(m)]
    # Each door: ✅ once, the household told; an older copy of the list acts on nothing.
    marks = [d for d in button_data(sheet) if d.startswith("gb:dd:")]  # and 📷 for the rest
    assert len(marks) == 3
    for i, mark in enumerate(marks):
        await wang.press_data(sheet, mark, force=True)
        await h.settle()
        await homes[i].expect(lambda m: "已送到门口" in text_of(m))
    done = await h.wait_edit(
        2001, sheet["message_id"], lambda m: Z("All doors delivered.") in text_of(m)
    )
    # Paid on delivery (the default): what is left are the 💵 cash buttons.
    assert all(d.startswith("gb:pc:") for d in button_data(done))
    await wang.press_data(sheet, marks[0], force=True)
    await h.settle()
    assert len([m for m in homes[0].chat() if "已送到门口" in text_of(m)]) == 1
    async with h.rt.db.read() as s:
        runs = {r.building_id: r for r in await s.scalars(select(GroupBuyRun))}
    assert len(runs) == 2 and runs[1].done_at is not None and runs[2].done_at is None


def texts_send_photo() -> str:
    from handlers.groupbuys import SEND_PHOTO

    return SEND_PHOTO


async def test_the_command_line_import_is_all_or_nothing(harness: Harness, tmp_path: Any) -> None:
    h = harness
    await add_merchant(h)
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")
    good.write_text(GOOD_CSV, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    args = build_parser().parse_args(["merchant", "import", "爱心超市", str(bad)])
    assert await run_merchant(h.rt.settings, args, out, err) == 1
    assert f"{bad}:3:" in err.getvalue() and f"{bad}:4:" in err.getvalue()
    assert "nothing imported" in err.getvalue()
    assert await prices(h) == {}
    args = build_parser().parse_args(["merchant", "import", "爱心超市", str(good)])
    assert await run_merchant(h.rt.settings, args, out, err) == 0
    assert "3 new" in out.getvalue()
    assert await prices(h) == {"白菜": 350, "鸡蛋": 1200, "大米": 4500}


async def test_staff_open_a_group_buy_by_buttons(harness: Harness) -> None:
    """/groupbuy alone: merchant, 🏘 a whole compound less one building, items and limits,
    the deadline typed (a bad one asked again), the day, ✅; ✖️ stops at any step; a press
    on the finished flow's message acts on nothing."""
    h = harness
    staff = h.person(STAFF)
    await add_merchant(h)
    await import_by_bot(h, staff, GOOD_CSV)
    aunt = await h.register(3001, "甲", "xf1", "1", "101")
    other = await h.register(3003, "丙", "xf3", "1", "101")

    # ✖️ at the first step: nothing opened.
    staff.say("/groupbuy")
    first = await staff.expect(Z("Open a group-buy. Which merchant?"))
    await staff.press(first, Z("✖️ Cancel"))
    await h.wait_edit(
        STAFF, first["message_id"], lambda m: Z("Stopped. No group-buy was opened.") in text_of(m)
    )

    staff.say("/groupbuy")
    flow = await staff.expect(Z("Open a group-buy. Which merchant?"))
    await staff.press(flow, "爱心超市")
    flow = await h.wait_edit(STAFF, flow["message_id"], lambda m: "gbn:c:1" in data(m))
    nothing = await staff.press(flow, Z("➡️ Next"))
    assert nothing is not None and Z("Please choose at least one.") in nothing.get("text", "")
    await staff.press_data(flow, "gbn:c:1")  # 幸福小区: 1栋, 2栋, 3栋
    flow = await h.wait_edit(STAFF, flow["message_id"], lambda m: "☑️ 3栋" in str(buttons(m)))
    await staff.press(flow, "3栋")  # … but not 3栋
    flow = await h.wait_edit(STAFF, flow["message_id"], lambda m: "☑️ 3栋" not in str(buttons(m)))
    assert "☑️ 1栋" in str(buttons(flow)) and "☑️ 2栋" in str(buttons(flow))
    await staff.press(flow, Z("➡️ Next"))
    flow = await h.wait_edit(STAFF, flow["message_id"], lambda m: "gbn:l:1:1" in data(m))
    for product in (1, 1, 2):  # 白菜 at most 2, 鸡蛋 at most 1
        await staff.press_data(flow, f"gbn:l:{product}:1")
        await h.settle()
    flow = await h.wait_edit(
        STAFF, flow["message_id"], lambda m: "白菜 ¥3.50/斤 · 2" in str(buttons(m))
    )
    await staff.press(flow, Z("➡️ Next"))
    await h.wait_edit(STAFF, flow["message_id"], lambda m: Z(ASK_WHEN) in text_of(m))
    staff.say("25:99")
    await staff.expect(lambda m: Z(ASK_WHEN) in text_of(m))
    at = (h.rt.clock.now() + timedelta(hours=5)).astimezone(ZoneInfo(h.rt.timezone))
    staff.say(f"{at:%Y-%m-%d %H:%M}")
    days = await staff.expect(Z("Which day is it delivered?"))
    await staff.press_data(days, data(days)[1])
    sure = await h.wait_edit(STAFF, days["message_id"], lambda m: "gbn:ok" in data(m))
    assert "货到付款" in text_of(sure)  # paid on delivery unless changed
    await staff.press_data(sure, "gbn:p:online")
    sure = await h.wait_edit(STAFF, days["message_id"], lambda m: "在线预付" in text_of(m))
    await staff.press(sure, Z("✅ Open the group-buy"))
    await h.wait_edit(STAFF, days["message_id"], lambda m: "团购 #1" in text_of(m))
    await h.settle()
    async with h.rt.db.read() as s:
        gb = await s.get(GroupBuy, 1)
        assert (
            gb is not None
            and gb.deadline_at.astimezone(ZoneInfo(h.rt.timezone)).strftime("%H:%M")
            == f"{at:%H:%M}"
        )
        limits = {i.name: i.per_household for i in await s.scalars(select(GroupBuyItem))}
        assert gb.payment == "online"
    assert limits == {"白菜": 2, "鸡蛋": 1}
    card = await card_of(h, aunt)
    assert "每户限 2" in text_of(card)
    assert not [m for m in other.chat() if "团购 #" in text_of(m)]
    # The finished flow's buttons act on nothing.
    stale = await staff.press_data(sure, "gbn:ok", force=True)
    assert stale is not None and stale.get("show_alert")
    assert await h.count(GroupBuy) == 1


async def test_a_grid_without_a_group_asks_its_volunteers_privately(harness: Harness) -> None:
    """第二网格 has no group chat: its volunteers each get 🙋 privately; one wins, the other's
    copy then shows who took it."""
    from bot.services.groupbuys import buys, orders
    from models import Grid

    h = harness
    await add_merchant(h)
    async with h.rt.db.session() as s:
        grid = await s.get(Grid, 2)
        assert grid is not None
        grid.group_chat_id = None
        m = await s.scalar(select(Merchant))
        assert m is not None
        await merchants.import_products(s, h.rt.clock, None, m, GOOD_CSV)
    chen, yang = h.person(2101), h.person(2102)
    for p in (chen, yang):
        p.say("/help")
    home = await h.register(3101, "庚", "hp5", "1", "101")
    at = (h.rt.clock.now() + timedelta(hours=1)).astimezone(ZoneInfo(h.rt.timezone))
    async with h.rt.db.session() as s:
        words = ["爱心超市", "hp5", f"{at:%Y-%m-%d}", f"{at:%H:%M}"]
        await buys.open_from_args(
            h.rt, s, STAFF, [*words, f"{at + timedelta(days=1):%Y-%m-%d}", "鸡蛋"]
        )
    card = await card_of(h, home)
    await press(h, home, card, "a", int(data(card)[2].split(":")[2]))
    h.advance(hours=1, minutes=1)
    async with h.rt.db.session() as s:
        assert await orders.close(h.rt, s, 1)
    async with h.rt.db.session() as s:
        await orders.confirm(h.rt, s, STAFF, 1)
    async with h.rt.db.session() as s:
        await orders.delivered(h.rt, s, MERCHANT, 1, door_photo(h))
    h.rt.wake_outbox()
    await h.settle()
    asks = [
        await p.expect(lambda m: any(d.startswith("gb:tk:") for d in data(m))) for p in (chen, yang)
    ]
    assert "和平里 5栋" in text_of(asks[0]) and "101" not in text_of(asks[0])
    took = await chen.press_data(asks[0], data(asks[0])[0])
    assert took is not None and Z(packing.YOURS_NOW) in took.get("text", "")
    late = await yang.press_data(asks[1], data(asks[1])[0])
    assert late is not None and late.get("show_alert")
    shown = await h.wait_edit(2102, asks[1]["message_id"], lambda m: not buttons(m))
    assert Z("Taken by {name}.") in text_of(shown)
    sheet = await chen.expect(lambda m: any(d.startswith("gb:dd:") for d in data(m)))
    assert "1-101: 鸡蛋 ×1" in text_of(sheet)
