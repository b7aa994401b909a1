"""Telegram's own limits (4,096 characters a message, 1,024 a caption, counted in UTF-16 as
Telegram does; the emulator refuses longer ones as Telegram does) are enforced where people's
text is sent on: too long is refused with the limit and the length, the rest of what they
entered is kept, and a shorter text then reaches everyone whole."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from telegram.error import BadRequest

from bot import limits
from bot.services.orders import form, transitions
from handlers import notices as notice_handlers
from handlers import relay as relay_handlers
from models import Notice, OrderDraft, OrderMessage, OutboxMessage
from tests.e2e.test_relay import AUNT, RUNNER, _claimed, _open_relay
from tests.factories import STAFF, Harness, Person, Z, text_of
from tests.factories import buttons as m_buttons

TOO_LONG = Z(limits.TOO_LONG_TO_SEND)


async def _notice_to_grid_1(h: Harness) -> Person:
    boss = h.person(STAFF)
    boss.say("/notice")
    whom = await boss.expect(Z("Send a notice to whom?"))
    await boss.press(whom, Z("🗺 A grid"))
    grids = await h.wait_edit(STAFF, whom["message_id"], lambda m: "n:t:g1" in str(m))
    await boss.press(grids, "第一网格")
    await h.wait_edit(
        STAFF, whom["message_id"], lambda m: Z(notice_handlers.ASK_TEXT) in text_of(m)
    )
    return boss


def _refusal(n: int) -> Any:
    return lambda m: TOO_LONG in text_of(m) and str(n) in text_of(m)


async def _failed(h: Harness) -> list[str]:
    async with h.rt.db.read() as s:
        rows = await s.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed"))
        return [r.error or "" for r in rows]


async def test_emulator_refuses_what_telegram_refuses(harness: Harness) -> None:
    h = harness
    bot = h.service.raw_bot
    h.person(AUNT).say("/help")
    await h.settle()
    # The sends below are the test's own, unpaced on purpose, right after the bot's reply: the
    # lenient emulator (a burst allowed in a private chat) judges only their length.
    h.emu.set_limits(strict=False)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(AUNT, "🍎" * 2049)  # 4,098 UTF-16 units
    with pytest.raises(BadRequest, match=r"(?i)message caption is too long"):
        await bot.send_photo(AUNT, b"\x89PNG", caption="长" * 1025)
    await bot.send_message(AUNT, "🍎" * 2048)  # exactly 4,096


async def test_a_notice_too_long_for_telegram_is_refused_and_the_draft_kept(
    harness: Harness,
) -> None:
    h = harness
    h.rt.settings.limits.max_text_length = 4000  # the config allows notices far longer
    aunt = await h.register(AUNT, "周阿姨", building_code="xf1")
    boss = await _notice_to_grid_1(h)
    # 4,090 characters: one message as typed, too long once "📢 社区通知" is put on top.
    boss.say("通" * 4090)
    await boss.expect(_refusal(4090))
    # The audience and the grid are kept: a shorter text goes straight to the preview.
    boss.say("知" * 4050)
    preview = await boss.expect(Z(notice_handlers.PREVIEW_TO))
    await boss.press(preview, Z("✅ Send now"))
    await boss.expect(Z("Notice #{id} is on its way to {n} households."))
    got = await aunt.expect("知" * 100, timeout=30)
    assert text_of(got).endswith("知" * 4050)
    await h.settle()
    assert await _failed(h) == []
    async with h.rt.db.read() as s:
        assert [n.text for n in await s.scalars(select(Notice))] == ["知" * 4050]


async def test_a_notice_caption_too_long_for_telegram_is_refused(harness: Harness) -> None:
    h = harness
    aunt = await h.register(AUNT, "周阿姨", building_code="xf1")
    boss = await _notice_to_grid_1(h)
    # 500 emoji: 500 characters to Python, 1,000 to Telegram, over 1,024 with the header.
    h.emu.send_photo(STAFF, b"\x89PNG notice", caption="🍎" * 500)
    await boss.expect(_refusal(1000))
    h.emu.send_photo(STAFF, b"\x89PNG notice", caption="🍎" * 480)
    preview = await boss.expect(Z(notice_handlers.PREVIEW_TO))
    await boss.press(preview, Z("✅ Send now"))
    got = await aunt.expect(lambda m: bool(m.get("photo")), timeout=30)
    assert text_of(got).endswith("🍎" * 480)
    await h.settle()
    assert await _failed(h) == []


async def test_a_relayed_message_too_long_for_telegram_is_refused_not_cut(
    harness: Harness,
) -> None:
    h = harness
    h.rt.settings.limits.max_text_length = 4000
    aunt, wang, took, _card = await _claimed(h)
    await _open_relay(aunt, took, Z(relay_handlers.PROMPT["resident"]))
    # 2,040 emoji: within the config's 4,000 characters and one message as typed (4,080 to
    # Telegram), too long to relay with "💬 周阿姨 about order #1:" on top. It used to be cut.
    aunt.say("🥚" * 2040)
    await aunt.expect(_refusal(4080))
    # Still writing to the runner: the shorter text goes through, whole.
    aunt.say("🥚" * 2000)
    await aunt.expect(Z(relay_handlers.SENT))
    got = await wang.expect("🥚" * 100, timeout=30)
    assert text_of(got).endswith("🥚" * 2000) and "…" not in text_of(got)
    async with h.rt.db.read() as s:
        kept = (await s.scalars(select(OrderMessage))).all()
    assert [m.text for m in kept] == ["🥚" * 2000]
    assert await _failed(h) == []
    assert RUNNER == wang.user_id


async def test_an_order_description_too_long_for_the_cards_is_refused_and_the_form_kept(
    harness: Harness,
) -> None:
    """The description is shown whole on the runner's card, the resident's order and the form's
    summary: with the config's 4,000 characters it used to be taken, and then the summary and
    the card were refused by Telegram (the form hung, the runner got nothing)."""
    h = harness
    h.rt.settings.limits.max_text_length = 4000
    aunt = await h.register(AUNT, "周阿姨")
    wang = h.person(RUNNER)
    wang.say("/help")  # the runner has a private chat with the bot
    aunt.say("/order")
    kinds = await aunt.expect(lambda m: any(d.startswith("d:cat:") for _, d in m_buttons(m)))
    await aunt.press_data(kinds, "d:cat:groceries")
    prompt = Z(form.KIND_STEPS["groceries"][0].prompt)
    await h.wait_edit(AUNT, kinds["message_id"], lambda m: prompt in text_of(m))
    aunt.say("菜" * 4000)
    await aunt.expect(_refusal(4000))
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None and draft.description is None  # nothing taken, same question
    # A shorter list is taken and the form goes on.
    aunt.say("菜" * 3600)
    await aunt.expect(Z(form.KIND_STEPS["groceries"][1].prompt))
    aunt.say("/cancel")
    await h.settle()
    # The whole way with it: the summary, the order, the runner's card.
    done = await h.order(aunt, "groceries", text="菜" * 3600)
    order_id = int(text_of(done).split("#")[1].split()[0])
    async with h.rt.db.session() as s:
        await transitions.claim(h.rt, s, order_id, RUNNER)
    h.rt.wake_outbox()
    card = await wang.expect(lambda m: "菜" * 3600 in text_of(m), timeout=30)
    assert "📝 " + "菜" * 3600 + "\n" in text_of(card)  # whole, not cut
    await h.settle()
    assert await _failed(h) == []
