"""A resident's ✅ Received on a notice, end to end: the press is answered within its own
update, the receipt is recorded once, and the ✅ is taken off the message by the outbox (an
edit written with the receipt, sent later and paced), never by the update itself."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.services import notices
from models import NoticeDelivery, OutboxKind, OutboxMessage, OutboxStatus
from tests.factories import STAFF, Harness, Person, Z, buttons, text_of

TEXT = "停水通知：今天14点到18点"


async def _notice_to(h: Harness, *people: tuple[int, str]) -> tuple[int, list[Person]]:
    """A notice to the whole community, delivered, with ``people`` registered first."""
    who = [
        await h.register(uid, name, building_code="xf1", room=str(101 + i))
        for i, (uid, name) in enumerate(people)
    ]
    async with h.rt.db.session() as s:
        notice = await notices.create(h.rt, s, STAFF, notices.COMMUNITY, "c1", TEXT)
        notice_id = notice.id
    h.rt.wake_outbox()
    await h.settle()
    return notice_id, who


async def _edits_owed(h: Harness, chat_id: int) -> list[OutboxMessage]:
    async with h.rt.db.read() as s:
        return list(
            await s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == chat_id, OutboxMessage.kind == OutboxKind.EDIT
                )
            )
        )


async def _confirmed(h: Harness, notice_id: int, chat_id: int) -> list[Any]:
    async with h.rt.db.read() as s:
        return list(
            await s.scalars(
                select(NoticeDelivery.confirmed_at).where(
                    NoticeDelivery.notice_id == notice_id, NoticeDelivery.chat_id == chat_id
                )
            )
        )


async def test_the_press_is_answered_before_the_buttons_go(harness: Harness) -> None:
    """The edit removing the ✅ is held by Telegram (the chat stalled): the press is answered
    all the same and its update is done; the edit follows once the chat is released."""
    h = harness
    notice_id, (a,) = await _notice_to(h, (1001, "周阿姨"))
    msg = await a.expect(TEXT)
    assert buttons(msg) == [(Z("✅ Received"), f"n:ok:{notice_id}")]

    h.emu.stall(a.user_id)  # message edits to this chat hang
    answer = await a.press_data(msg, f"n:ok:{notice_id}")
    assert answer is not None and Z("Thank you, noted.") in answer.get("text", "")
    await asyncio.wait_for(h.service.idle(), 15)  # the update did not wait for the edit
    assert len(await _confirmed(h, notice_id, a.user_id)) == 1
    current = [m for m in h.emu.messages(a.user_id) if m["message_id"] == msg["message_id"]]
    assert buttons(current[0])  # not yet edited: the edit is the outbox's

    h.emu.release(a.user_id)
    await h.settle()
    edited = await h.wait_edit(a.user_id, msg["message_id"], lambda m: not buttons(m))
    # The text is kept, with when it was confirmed under it.
    assert text_of(edited).startswith(text_of(msg)) and text_of(edited) != text_of(msg)
    (edit,) = await _edits_owed(h, a.user_id)
    assert edit.status == OutboxStatus.SENT and edit.message_id == msg["message_id"]


async def test_a_double_press_is_recorded_and_edited_once(harness: Harness) -> None:
    h = harness
    notice_id, (a, b) = await _notice_to(h, (1001, "周阿姨"), (1002, "吴大爷"))
    msg = await a.expect(TEXT)

    # Two presses at once (a double tap), then one more after the ✅ is gone (a replay).
    first, second = await asyncio.gather(
        a.press_data(msg, f"n:ok:{notice_id}"), a.press_data(msg, f"n:ok:{notice_id}")
    )
    answers = sorted(x.get("text", "") for x in (first, second) if x is not None)
    assert answers == sorted([Z("Thank you, noted."), Z("Already noted, thank you.")])
    await h.settle()
    await h.wait_edit(a.user_id, msg["message_id"], lambda m: not buttons(m))
    (when,) = await _confirmed(h, notice_id, a.user_id)
    assert when is not None
    again = await a.press_data(msg, f"n:ok:{notice_id}", force=True)
    assert again is not None and Z("Already noted, thank you.") in again.get("text", "")
    await h.settle()

    assert await _confirmed(h, notice_id, a.user_id) == [when]  # recorded once, not moved
    assert len(await _edits_owed(h, a.user_id)) == 1  # one edit, not one per press
    assert await _edits_owed(h, b.user_id) == []  # nobody else's message touched
    theirs = await b.expect(TEXT)
    assert buttons(theirs) == [(Z("✅ Received"), f"n:ok:{notice_id}")]
    async with h.rt.db.read() as s:
        assert (await notices.counts(s, notice_id)).confirmed == 1


async def test_a_press_on_the_copy_before_a_resend_clears_both(harness: Harness) -> None:
    """After a resend the household has two copies; a press on the older one takes the ✅
    off both."""
    h = harness
    notice_id, (a,) = await _notice_to(h, (1001, "周阿姨"))
    old = await a.expect(TEXT)
    async with h.rt.db.session() as s:
        assert await notices.resend_unconfirmed(h.rt, s, STAFF, notice_id) == 1
    h.rt.wake_outbox()
    await h.settle()
    copies = [m for m in h.emu.messages(a.user_id) if m["outgoing"] and TEXT in text_of(m)]
    assert len(copies) == 2 and all(buttons(m) for m in copies)

    answer = await a.press_data(old, f"n:ok:{notice_id}")
    assert answer is not None and Z("Thank you, noted.") in answer.get("text", "")
    await h.settle()
    for m in copies:
        await h.wait_edit(a.user_id, m["message_id"], lambda m: not buttons(m))
    assert len(await _edits_owed(h, a.user_id)) == 2
