"""Issue 17 follow-up: what a household and staff see when a group-buy closes and moves on is
true on the messages they already have. At the deadline the sweep edits every ＋/－ card a
household was shown (through the outbox) to its final state: closed, what it took and the
total, or that it took no part, with no ＋/－ left; across a restart between the choice and
the deadline, and once only (a second sweep edits nothing again). Staff's summaries lose ✅ on
every copy once one of them orders it, and say where and when it was delivered once the
merchant has; a stale ✅ orders nothing twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import notices
from bot.services.groupbuys import buys, merchants, orders, texts
from models import (
    GroupBuyMessage,
    Merchant,
    OutboxKind,
    OutboxMessage,
    Staff,
    StaffRole,
)
from tests.conftest import make_settings
from tests.e2e.test_groupbuys import GOOD_CSV, MERCHANT, add_merchant, card_of, data, press
from tests.e2e.test_zh_screens import english_in, seen_texts
from tests.factories import STAFF, Harness, Person, Z, buttons, door_photo, text_of

COLLEAGUE = 9002  # a second staff member of the community


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, limits={"messages_per_minute": 600})


async def open_group_buy(h: Harness, hours: int = 2) -> None:
    """爱心超市's 白菜 (¥3.50, at most 3) and 鸡蛋 (¥12.00, at most 2) for 幸福小区 1栋."""
    await add_merchant(h)
    async with h.rt.db.session() as s:
        m = await s.scalar(select(Merchant))
        assert m is not None
        await merchants.import_products(s, h.rt.clock, None, m, GOOD_CSV)
    at = (h.rt.clock.now() + timedelta(hours=hours)).astimezone(ZoneInfo(h.rt.timezone))
    async with h.rt.db.session() as s:
        words = ["爱心超市", "xf1", f"{at:%Y-%m-%d}", f"{at:%H:%M}"]
        await buys.open_from_args(
            h.rt, s, STAFF, [*words, f"{at + timedelta(days=1):%Y-%m-%d}", "白菜:3", "鸡蛋:2"]
        )
    h.rt.wake_outbox()


def item_ids(card: dict[str, Any]) -> tuple[int, int]:
    """白菜's and 鸡蛋's ids, from the card's ＋ buttons."""
    plus = [int(d.split(":")[2]) for d in data(card) if d.startswith("gb:a:")]
    return plus[0], plus[1]


async def card_edits(h: Harness) -> dict[int, int]:
    """How many edits the outbox owes or made of each kept card (its row id -> edits)."""
    async with h.rt.db.read() as s:
        kept = list(
            await s.scalars(select(GroupBuyMessage.outbox_id).where(GroupBuyMessage.kind == "card"))
        )
        edits = list(
            await s.scalars(
                select(OutboxMessage.edit_of).where(
                    OutboxMessage.kind == OutboxKind.EDIT, OutboxMessage.edit_of.in_(kept)
                )
            )
        )
    return {k: edits.count(k) for k in kept}


async def test_the_deadline_edits_every_card_a_household_was_shown(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()
    aunt = await h.register(3001, "甲", "xf1", "1", "101")
    uncle = await h.register(3002, "乙", "xf1", "1", "102")
    cousin = await h.register(3003, "丙", "xf1", "2", "201")
    late_comer = await h.register(3004, "丁", "xf1", "2", "202")  # never opens the card
    await open_group_buy(h)

    # 甲 takes two 白菜; 乙 opens the card and chooses nothing; 丙 opens it twice (🛒 on the
    # announcement, then 🛒 团购 in the menu) and takes one 鸡蛋 on the second.
    mine = await card_of(h, aunt)
    cabbage, eggs = item_ids(mine)
    await press(h, aunt, mine, "a", cabbage)
    await press(h, aunt, mine, "a", cabbage)
    empty = await card_of(h, uncle)
    first = await card_of(h, cousin)
    cousin.say("/groupbuys")
    second = await cousin.expect(lambda m: f"gb:a:{eggs}" in data(m))
    assert second["message_id"] != first["message_id"]
    await press(h, cousin, second, "a", eggs)
    await h.wait_edit(3001, mine["message_id"], lambda m: "¥7.00" in text_of(m))
    await h.wait_edit(3003, second["message_id"], lambda m: "鸡蛋 ×1, ¥12.00" in text_of(m))

    # A restart between the choice and the deadline loses nothing.
    await h.restart()
    await h.own_the_sweep()
    h.advance(hours=2, minutes=1)
    assert (await h.sweep())["group-buy deadlines"] == 1

    closed = await h.wait_edit(3001, mine["message_id"], lambda m: not buttons(m))
    body = text_of(closed)
    assert "🔒 已截止" in body and "已参加: 白菜 ×2, ¥7.00" in body
    assert "＋" not in body and "点 ＋" not in body
    nothing = await h.wait_edit(3002, empty["message_id"], lambda m: not buttons(m))
    assert "🔒 已截止" in text_of(nothing)
    assert Z(texts.WITHOUT_YOU) in text_of(nothing) and "已参加" not in text_of(nothing)
    for card in (first, second):  # both of 丙's cards
        shown = await h.wait_edit(3003, card["message_id"], lambda m: not buttons(m))
        assert "已参加: 鸡蛋 ×1, ¥12.00" in text_of(shown)
    # 丁 never opened a card: nothing is sent or edited in their chat for it.
    assert not [m for m in h.emu.messages(3004) if "🔒" in text_of(m)]

    # Once only: a second sweep (also after another restart) closes and edits nothing again.
    await h.restart()
    await h.own_the_sweep()
    assert (await h.sweep())["group-buy deadlines"] == 0
    edits = await card_edits(h)
    assert len(edits) == 4 and set(edits.values()) == {1}, edits

    # ＋ on the closed card (a stale button, pressed anyway): nothing changes, it says closed.
    late = await aunt.press_data(mine, f"gb:a:{cabbage}", force=True)
    assert late is not None and Z(texts.CLOSED_ALERT) in late.get("text", "")
    await h.settle()
    again = next(m for m in h.emu.messages(3001) if m["message_id"] == mine["message_id"])
    assert "已参加: 白菜 ×2, ¥7.00" in text_of(again) and not buttons(again)

    # The announcement loses its 🛒 at the close (taking part is over): 丁, who never
    # confirmed it, keeps ✅; 甲, whose 🛒 counted as the receipt, has no button left.
    told = await late_comer.expect(lambda m: "📢" in text_of(m))
    join = "gb:j:1"  # one notice for 1栋
    shown = await h.wait_edit(3004, told["message_id"], lambda m: join not in data(m))
    assert data(shown) == ["n:ok:1"]
    announced = next(m for m in aunt.chat() if "📢" in text_of(m))
    await h.wait_edit(3001, announced["message_id"], lambda m: not buttons(m))
    # A stale 🛒 pressed anyway: no new card, an alert says it closed and what the household
    # took (or that it took no part).
    before = len(late_comer.chat())
    said = await late_comer.press_data(told, join, force=True)
    assert said is not None and said.get("show_alert")
    assert Z(texts.CLOSED_ALERT) in said["text"] and Z(texts.WITHOUT_YOU) in said["text"]
    said = await aunt.press_data(announced, join, force=True)
    assert said is not None and "已参加: 白菜 ×2, ¥7.00" in said.get("text", "")
    await h.settle()
    assert len(late_comer.chat()) == before
    assert not [m for m in aunt.chat() if m["message_id"] > mine["message_id"] and "＋" in str(m)]
    for chat, msg in ((3004, told), (3001, announced)):  # the receipt's edit brings no 🛒 back
        now = next(m for m in h.emu.messages(chat) if m["message_id"] == msg["message_id"])
        assert join not in data(now)

    # In Chinese throughout.
    english = {
        (chat, w)
        for chat in (3001, 3002, 3003)
        for m in h.emu.messages(chat)
        if m["outgoing"]
        for t in seen_texts(m)
        for w in english_in(t, {"User3001", "User3002", "User3003"})
    }
    assert not english, english


async def summaries(h: Harness, people: list[Person]) -> list[dict[str, Any]]:
    return [await p.expect(lambda m: "gb:ok:1" in data(m)) for p in people]


async def test_staff_summaries_follow_the_order_to_its_delivery(harness: Harness) -> None:
    h = harness
    await h.own_the_sweep()
    async with h.rt.db.session() as s:
        s.add(
            Staff(
                telegram_id=COLLEAGUE,
                name="钱主任",
                role=StaffRole.COMMUNITY,
                community_id=1,
                created_at=h.rt.clock.now(),
            )
        )
    staff, colleague = h.person(STAFF), h.person(COLLEAGUE, "钱主任")
    staff.say("/help")
    colleague.say("/help")
    merchant = h.person(MERCHANT, "超市老板")
    merchant.say("/help")
    aunt = await h.register(3001, "甲", "xf1", "1", "101")
    await open_group_buy(h)
    mine = await card_of(h, aunt)
    await press(h, aunt, mine, "a", item_ids(mine)[0])
    h.advance(hours=2, minutes=1)
    assert (await h.sweep())["group-buy deadlines"] == 1
    ours, theirs = await summaries(h, [staff, colleague])

    # ✅ by one: every copy loses ✅ and says it is ordered; the other's stale ✅ orders
    # nothing again.
    await staff.press(ours, Z(texts.CONFIRM))
    await h.settle()
    for chat, summary in ((STAFF, ours), (COLLEAGUE, theirs)):
        ordered = await h.wait_edit(chat, summary["message_id"], lambda m: "gb:ok:1" not in data(m))
        assert "已向商家下单" in text_of(ordered)
    stale = await colleague.press_data(theirs, "gb:ok:1", force=True)
    assert stale is not None and Z(orders.ALREADY_CONFIRMED) in stale.get("text", "")
    await h.settle()
    assert len([m for m in merchant.chat() if "gb:dl:1" in data(m)]) == 1

    # The merchant delivers to the point: each summary says so, where and when.
    async with h.rt.db.session() as s:
        await orders.delivered(h.rt, s, MERCHANT, 1, door_photo(h))
    h.rt.wake_outbox()
    await h.settle()
    at = h.rt.clock.now().astimezone(ZoneInfo(h.rt.timezone)).strftime("%m-%d %H:%M")
    for chat, summary in ((STAFF, ours), (COLLEAGUE, theirs)):
        done = await h.wait_edit(chat, summary["message_id"], lambda m: "送达" in text_of(m))
        body = text_of(done)
        assert f"状态：已于 {at} 送达" in body and "配送点" in body, body
        assert "已向商家下单" not in body
        assert data(done) == ["gb:ck:1"]  # 🧾 receipts and payments stay
    # The merchant's order too: 📦 is gone, it says delivered.
    order = next(m for m in merchant.chat() if "gb:xl:1" in data(m))
    assert "gb:dl:1" not in data(order) and f"已于 {at} 送达" in text_of(order)
    # A stale ✅ after delivery still orders nothing.
    late = await staff.press_data(ours, "gb:ok:1", force=True)
    assert late is not None and late.get("show_alert")
    await h.settle()
    assert len([m for m in merchant.chat() if "📦" in text_of(m) and "gb:xl:1" in data(m)]) == 1


async def test_a_card_too_old_to_edit_is_sent_anew_closed(harness: Harness) -> None:
    """Open for three days: a card shown on the first is past Telegram's 48 hours at the
    deadline; a household that took part gets its closed card anew, one that took nothing
    gets no message."""
    h = harness
    await h.own_the_sweep()
    aunt = await h.register(3001, "甲", "xf1", "1", "101")
    uncle = await h.register(3002, "乙", "xf1", "1", "102")
    silent = await h.register(3003, "丙", "xf1", "2", "201")  # never presses anything
    await open_group_buy(h, hours=72)
    mine = await card_of(h, aunt)
    await press(h, aunt, mine, "a", item_ids(mine)[1])
    await card_of(h, uncle)
    await h.settle()  # the outbox has recorded when each card was sent
    h.advance(hours=72, minutes=1)
    assert (await h.sweep())["group-buy deadlines"] == 1
    anew = await aunt.expect(lambda m: "🔒 已截止" in text_of(m))
    assert "已参加: 鸡蛋 ×1, ¥12.00" in text_of(anew) and not buttons(anew)
    assert anew["message_id"] != mine["message_id"]
    await h.settle()
    assert not [m for m in uncle.chat() if "🔒" in text_of(m)]
    assert set((await card_edits(h)).values()) == {0}  # too old: not edited
    # Staff resend the announcement to those who have not confirmed it: after the deadline
    # the new copy carries ✅ alone (its 🛒 would only say it closed).
    first = await silent.expect(lambda m: "📢" in text_of(m))
    async with h.rt.db.session() as s:
        assert await notices.resend_unconfirmed(h.rt, s, STAFF, 1) == 1
    h.rt.wake_outbox()
    again = await silent.expect(
        lambda m: "📢" in text_of(m) and m["message_id"] > first["message_id"]
    )
    assert data(again) == ["n:ok:1"]
