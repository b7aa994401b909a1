"""💬 on an order taken by phone (issue 16 section 1): the household has no Telegram, so the
runner's question reaches the person who took the call, who phones the household and replies;
the reply reaches the runner as a resident's would. Old buttons never act on the past."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.buttons import relay_action
from bot.i18n import gettext_for
from bot.services import relay
from bot.services.orders import drafts, resident_moves, transitions
from handlers import relay as relay_handlers
from handlers.help import HELP_VOLUNTEER
from models import OrderMessage, OutboxMessage, Resident, Volunteer
from tests.e2e.test_phone_orders import PHONE, fill_form, new_household
from tests.factories import (
    ANSWERS,
    GROUP_1,
    STAFF,
    VOLUNTEERS_1,
    Harness,
    Person,
    Z,
    buttons,
    door_photo,
    register_by_buttons,
    text_of,
)
from tests.privacy_guard import Personal, find_leaks

RUNNER = VOLUNTEERS_1[0]  # 王刚
QUESTION = "没有土鸡蛋了，普通鸡蛋可以吗？"
ANSWER = "可以，要一盒"
_ZH = gettext_for("zh_CN")


def has(data: str) -> Any:
    return lambda m: any(d == data for _, d in buttons(m))


async def _phone_order_taken(h: Harness) -> tuple[Person, Person, int, dict[str, Any]]:
    """赵书记 takes 李奶奶's order by phone (she has no Telegram); 王刚 claims it. The staff
    member, the runner, the order and the runner's card."""
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    order_id = await fill_form(h, staff, kinds, "groceries")
    post = await staff.expect_in(GROUP_1, f"#{order_id}")
    wang = h.person(RUNNER)
    wang.say("/help")  # has a private chat with the bot, as approved volunteers do
    await wang.expect(Z(HELP_VOLUNTEER))
    await wang.press(post, Z("🙋 I'll run it"))
    card = await wang.expect(PHONE)
    return staff, wang, order_id, card


async def test_runner_asks_the_person_who_took_the_call_and_gets_the_answer(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h = harness
    staff, wang, order_id, card = await _phone_order_taken(h)

    # The runner's card of a phone order has 💬 (before, it had none: nobody to write to).
    assert has(relay_action(order_id))(card), buttons(card)
    answer = await wang.press_data(card, relay_action(order_id))
    assert answer is not None and not answer["show_alert"]
    prompt = await wang.expect(Z(relay_handlers.PROMPT_BY_PHONE))
    assert "赵书记" in text_of(prompt)
    wang.say(QUESTION)
    await wang.expect(Z(relay_handlers.SENT))

    # The person who took the call gets it, told to phone the household (its name and number
    # with it, in their private chat), with ↩️ to answer.
    got = await staff.expect(QUESTION)
    said = text_of(got)
    assert Z(relay.RELAYED_TO_TAKER) in said
    assert f"#{order_id}" in said and "李奶奶" in said and PHONE in said and "王刚" in said
    assert buttons(got) == [(Z(relay.REPLY), relay_action(order_id))]
    async with h.rt.db.read() as s:
        to = set(
            await s.scalars(
                select(OutboxMessage.chat_id).where(OutboxMessage.text.contains(QUESTION))
            )
        )
    assert to == {STAFF}  # the household has no chat: nothing went anywhere else

    # They phone her and answer; the runner sees it as a resident's reply, saying who phoned.
    await staff.press_data(got, relay_action(order_id))
    await staff.expect(Z(relay_handlers.PROMPT["resident"]))
    staff.say(ANSWER)
    await staff.expect(Z(relay_handlers.SENT))
    reply = await wang.expect(lambda m: text_of(m).endswith("\n" + ANSWER))
    assert "赵书记" in text_of(reply) and f"#{order_id}" in text_of(reply)
    assert buttons(reply) == [(Z(relay.REPLY), relay_action(order_id))]
    assert PHONE not in text_of(reply)

    async with h.rt.db.read() as s:
        kept = (await s.scalars(select(OrderMessage).order_by(OrderMessage.id))).all()
    assert [(m.sender_role, m.sender_telegram_id, m.text) for m in kept] == [
        ("volunteer", RUNNER, QUESTION),
        ("resident", STAFF, ANSWER),
    ]

    # Staff reading the thread see who answered for the household.
    staff.say(f"/relay {order_id}")
    thread = await staff.expect(ANSWER)
    assert "赵书记" in text_of(thread) and "王刚" in text_of(thread)

    # Delivered and received: the conversation is over. The old ↩️ in the staff member's
    # chat does nothing but say so; nothing is kept or sent.
    async with h.rt.db.session() as s:
        for verb in ("buy", "go"):
            await transitions.advance(h.rt, s, order_id, RUNNER, verb)
        await transitions.deliver(h.rt, s, order_id, RUNNER, door_photo(h), 0)
        await resident_moves.confirm_receipt(h.rt, s, order_id, STAFF)
    await h.settle()
    old = await staff.press_data(got, relay_action(order_id), force=True)
    assert old is not None and old["show_alert"]
    assert old["text"] == _ZH(relay.CLOSED).format(id=order_id)
    await h.settle()
    async with h.rt.db.read() as s:
        assert len((await s.scalars(select(OrderMessage))).all()) == 2

    # The household's name, phone and room never reached a log line.
    # (As the suite's guard reads a room: "502" inside a scheduler's hex job id is none.)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not find_leaks(logged, [Personal("李奶奶", PHONE, "3", "502")])


async def test_a_household_that_starts_the_bot_is_written_to_itself(harness: Harness) -> None:
    """The household started the bot meanwhile (linked at its door): the runner's 💬 now
    reaches it in its own chat, and the staff member's old ↩️ is refused, not speaking for it."""
    h = harness
    staff, wang, order_id, card = await _phone_order_taken(h)
    await wang.press_data(card, relay_action(order_id))
    await wang.expect(Z(relay_handlers.PROMPT_BY_PHONE))
    wang.say(QUESTION)
    got = await staff.expect(QUESTION)

    li = h.person(1005, "李奶奶")
    await register_by_buttons(h, li)
    li.contact("+86" + PHONE)
    await li.expect(PHONE)

    old = await staff.press_data(got, relay_action(order_id), force=True)
    assert old is not None and old["show_alert"]
    assert old["text"] == _ZH(relay.NOT_YOURS).format(id=order_id)

    await wang.press_data(card, relay_action(order_id))
    await wang.expect(Z(relay_handlers.PROMPT["volunteer"]))
    wang.say("到楼下了")
    mine = await li.expect("到楼下了")
    assert Z(relay.RELAYED_TO_TAKER) not in text_of(mine)
    await h.settle()
    async with h.rt.db.read() as s:
        kept = (await s.scalars(select(OrderMessage).order_by(OrderMessage.id))).all()
        to = set(
            await s.scalars(
                select(OutboxMessage.chat_id).where(OutboxMessage.text.contains("到楼下了"))
            )
        )
    assert [m.sender_telegram_id for m in kept] == [RUNNER, RUNNER]
    assert to == {1005}


async def test_no_relay_when_the_runner_took_the_call_themselves(harness: Harness) -> None:
    """A volunteer allowed to take phone orders who runs the order they entered has nobody
    to write to but the household's phone: no 💬 on the card, and a forged one says so."""
    h = harness
    staff = h.person(STAFF)
    kinds = await new_household(h, staff)
    await staff.press(kinds, "✖️")
    wang = h.person(RUNNER)
    wang.say("/help")
    await wang.expect(Z(HELP_VOLUNTEER))
    async with h.rt.db.session() as s:
        vol = await s.scalar(select(Volunteer).where(Volunteer.telegram_id == RUNNER))
        household = await s.scalar(select(Resident.id).where(Resident.phone == PHONE))
        assert vol is not None and household is not None
        vol.can_take_phone_orders = True  # as staff allow it (test_phone_orders.py)
        await s.flush()
        d = await drafts.start_phone_draft(h.rt, s, RUNNER, household)
        await drafts.update_draft(
            h.rt, s, d.id, RUNNER, category="groceries", urgency="normal", **ANSWERS["groceries"]
        )
        order_id = (await drafts.submit_draft(h.rt, s, d.id, RUNNER)).order.id
        await transitions.claim(h.rt, s, order_id, RUNNER)
    h.rt.wake_outbox()
    card = await wang.expect(lambda m: PHONE in text_of(m) and f"o:buy:{order_id}" in str(m))
    assert relay_action(order_id) not in [d for _, d in buttons(card)]
    forged = await wang.press_data(card, relay_action(order_id), force=True)
    assert forged is not None and forged["show_alert"]
    assert forged["text"] == _ZH(relay.NO_CHAT).format(id=order_id)
