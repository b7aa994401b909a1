"""A group-buy's share of a building whose status says "pickup" (管控区 by default): its
households are told to fetch it at the building's distribution point, with the pickup times and
their door; the grid's post asks for a volunteer to hand it out there (no door, no name), and
each door is marked fetched; the household's message says it fetched it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.seed import seed_demo_places
from bot.services import building_status
from tests.conftest import make_settings
from tests.e2e.test_groupbuys import (
    GOOD_CSV,
    MERCHANT,
    add_merchant,
    card_of,
    import_by_bot,
    texts_send_photo,
)
from tests.factories import GROUP_1, STAFF, Harness, Z, buttons, png, text_of


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, limits={"messages_per_minute": 600})


def data(msg: dict[str, Any]) -> list[str]:
    return [d for _, d in buttons(msg)]


async def test_a_pickup_buildings_share_is_fetched_at_its_point(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()
    async with h.rt.db.session() as s:
        await seed_demo_places(h.rt, s)
        await building_status.set_status(h.rt, s, STAFF, "xf2", "管控区")
    staff = h.person(STAFF)
    merchant = h.person(MERCHANT, "超市老板")
    merchant.say("/help")
    await add_merchant(h)
    await import_by_bot(h, staff, GOOD_CSV)
    home = await h.register(3004, "丁", "xf2", "1", "301")
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf2 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3")
    await staff.expect(lambda m: "团购 #1" in text_of(m))
    card = await card_of(h, home)
    plus = next(d for d in data(card) if d.startswith("gb:a:"))
    await home.press_data(card, plus)
    await h.wait_edit(3004, card["message_id"], lambda m: "白菜 ×1" in text_of(m))

    h.advance(hours=4)
    await h.sweep()
    summary = await staff.expect(lambda m: "gb:ok:1" in data(m))
    await staff.press_data(summary, "gb:ok:1")
    order = await merchant.expect(lambda m: "gb:dl:1" in data(m))
    assert "幸福小区北门配送点" in text_of(order)  # where the merchant delivers
    await merchant.press_data(order, "gb:dl:1")
    await merchant.expect(Z(texts_send_photo()))
    h.emu.send_photo(MERCHANT, png(4, 4))
    await h.settle()

    # The household: fetch it at the point, with the times and its door.
    come = await home.expect(lambda m: "请到那里取" in text_of(m))
    assert "幸福小区北门配送点（北门外空地）" in text_of(come) and "9:00-11:00" in text_of(come)
    assert "1-301" in text_of(come) and "白菜 ×1" in text_of(come)
    # The grid's post asks for someone to hand it out at the point: no door, no name.
    post = await h.emu.wait_for(GROUP_1, lambda m: "团购 #1" in text_of(m), 15.0)
    assert "我来分发" in str(buttons(post)) and "1-301" not in text_of(post)
    wang = h.person(2001)
    wang.say("/help")
    await h.settle()
    await wang.press_data(post, next(d for d in data(post) if d.startswith("gb:tk:")), GROUP_1)
    listing = await wang.expect(lambda m: "1-301" in text_of(m))
    fetched = next(label for label, _ in buttons(listing) if "已取走" in label)
    await wang.press(listing, fetched)
    told = await home.expect(lambda m: "您已取走" in text_of(m))
    assert "✅" in str(buttons(told))  # ✅ 已收到, ⚠️ and 💰 as at a door


async def test_one_photo_marks_a_buildings_remaining_doors(harness: Harness) -> None:
    """Carried up: after one door by hand, 📷 and one photo mark the rest of the building's
    doors delivered at once, each household told once; the photo is kept."""
    from sqlalchemy import select

    from models import GroupBuyDoor, GroupBuyRun

    h = harness
    await h.own_the_sweep()
    staff = h.person(STAFF)
    merchant = h.person(MERCHANT, "超市老板")
    merchant.say("/help")
    await add_merchant(h)
    await import_by_bot(h, staff, GOOD_CSV)
    homes = [
        await h.register(3001, "甲", "xf1", "1", "101"),
        await h.register(3002, "乙", "xf1", "1", "102"),
        await h.register(3003, "丙", "xf1", "2", "201"),
    ]
    deadline = (h.rt.clock.now() + timedelta(hours=3)).astimezone(ZoneInfo(h.rt.timezone))
    day = (deadline + timedelta(days=1)).strftime("%Y-%m-%d")
    staff.say(f"/groupbuy 爱心超市 xf1 {deadline:%Y-%m-%d %H:%M} {day} 白菜:3")
    await staff.expect(lambda m: "团购 #1" in text_of(m))
    for p in homes:
        card = await card_of(h, p)
        await p.press_data(card, next(d for d in data(card) if d.startswith("gb:a:")))
    await h.settle()
    h.advance(hours=4)
    await h.sweep()
    summary = await staff.expect(lambda m: "gb:ok:1" in data(m))
    await staff.press_data(summary, "gb:ok:1")
    order = await merchant.expect(lambda m: "gb:dl:1" in data(m))
    await merchant.press_data(order, "gb:dl:1")
    await merchant.expect(Z(texts_send_photo()))
    h.emu.send_photo(MERCHANT, png(4, 4))
    await h.settle()
    post = await h.emu.wait_for(GROUP_1, lambda m: "团购 #1" in text_of(m), 15.0)
    wang = h.person(2001)
    wang.say("/help")
    await h.settle()
    await wang.press_data(post, next(d for d in data(post) if d.startswith("gb:tk:")), GROUP_1)
    listing = await wang.expect(lambda m: "1-101" in text_of(m) and "gb:bp:" in str(data(m)))
    await wang.press(listing, "1-101")  # one door by hand
    await homes[0].expect(lambda m: "已送到门口" in text_of(m))
    listing = await h.wait_edit(2001, listing["message_id"], lambda m: "gb:bp:" in str(data(m)))
    await wang.press_data(listing, next(d for d in data(listing) if d.startswith("gb:bp:")))
    await wang.expect(lambda m: "请发一张" in text_of(m))
    h.emu.send_photo(2001, png(6, 6))
    done = await wang.expect(lambda m: "已用这张照片标记 2 户送达" in text_of(m))
    assert "gb:dd:" not in str(data(done))
    for p in homes[1:]:
        await p.expect(lambda m: "已送到门口" in text_of(m))
    await h.settle()
    async with h.rt.db.read() as s:
        r = await s.scalar(select(GroupBuyRun))
        assert r is not None and r.photo and r.done_at is not None
        marked = list(await s.scalars(select(GroupBuyDoor.delivered_at)))
    assert len(marked) == 3 and all(marked)
    for p in homes:  # each told once
        assert len([m for m in p.chat() if "已送到门口" in text_of(m)]) == 1
    # 📷 on the older copy of the list, every door marked since: no photo is asked for, and
    # that copy shows the list as it is now (no 📷, no ✅ left).
    asked = len([m for m in wang.chat() if "请发一张" in text_of(m)])
    stale = await wang.press_data(listing, next(d for d in data(listing) if d.startswith("gb:bp:")))
    assert stale is not None and stale.get("show_alert") and "已全部送到门口" in stale["text"]
    now = await h.wait_edit(2001, listing["message_id"], lambda m: "gb:bp:" not in str(data(m)))
    assert "gb:dd:" not in str(data(now)) and "已全部送到门口" in text_of(now)
    await h.settle()
    assert len([m for m in wang.chat() if "请发一张" in text_of(m)]) == asked
    async with h.rt.db.read() as s:
        kept = await s.scalar(select(GroupBuyRun.photo))
    assert kept == r.photo
    # The ledger's 楼栋状态 counts the building's group-buy households delivered.
    from bot.services import reports
    from bot.services.scope import scope_of

    async with h.rt.db.read() as s:
        today = h.rt.today()
        book = await reports.ledger(s, await scope_of(s, STAFF), today, today, h.rt.timezone)
    sheet = next(x for x in book if x.title == "楼栋状态")
    assert sheet.headings[-1] == "团购送达户数"
    assert {r[3]: r[-1] for r in sheet.rows}["xf1"] == 3
