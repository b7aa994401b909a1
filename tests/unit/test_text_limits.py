"""Telegram's limits measured as Telegram does, and checked on what is rendered: the problem
report as staff get it, a notice as every recipient gets it, long lists split, not cut."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import limits
from bot.errors import Refused
from bot.runtime import Runtime
from bot.services import notices
from bot.services.orders import resident_moves
from models import OrderProblem, OutboxMessage
from tests.factories import STAFF
from tests.unit.test_resident_services import _deliver, _register, _submit


def test_lengths_are_counted_as_telegram_counts_them() -> None:
    assert limits.tg_len("通知") == 2
    assert limits.tg_len("🍎") == 2  # outside the Basic Multilingual Plane: two code units
    assert limits.tg_len("𠀀") == 2  # a rare CJK character (Extension B) too
    assert limits.tg_len("é") == 1


def test_long_lists_are_split_into_messages_that_fit_not_cut() -> None:
    lines = ["🍎" * 3000, "第二行", "通" * 4096]
    parts = limits.chunks(lines, limits.TEXT_LIMIT)
    assert all(limits.tg_len(p) <= limits.TEXT_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == "".join(lines)


def test_a_notice_is_checked_as_every_recipient_gets_it() -> None:
    # 500 emoji: 500 characters to Python, 1,000 to Telegram; with the header, over a caption.
    with pytest.raises(Refused) as refused:
        notices.check_text("🍎" * 500, True, 3000)
    assert refused.value.message == limits.TOO_LONG_TO_SEND
    assert refused.value.params["n"] == 1000
    fits = refused.value.params["limit"]
    # The room left is the room of the longest header (the English one).
    body = "📢 Notice from the community\n\n"
    assert fits == limits.CAPTION_LIMIT - limits.tg_len(body)
    assert notices.check_text("通" * fits, True, 3000) == "通" * fits
    with pytest.raises(Refused):
        notices.check_text("通" * (limits.TEXT_LIMIT - 5), False, 12000)


async def test_a_problem_report_too_long_for_the_staff_message_is_refused(rt: Runtime) -> None:
    rt.settings.limits.max_text_length = 4000
    await _register(rt)
    oid = await _submit(rt)
    await _deliver(rt, oid)
    async with rt.db.session() as s:
        with pytest.raises(Refused) as refused:
            # 2,040 emoji: within the config's 4,000 characters and one message as typed.
            await resident_moves.report_problem(rt, s, oid, 1001, "wrong", "😢" * 2040)
    assert refused.value.message == limits.TOO_LONG_TO_SEND
    assert refused.value.params["n"] == 4080
    fits = refused.value.params["limit"]
    async with rt.db.read() as s:
        assert (await s.scalars(select(OrderProblem))).all() == []
    async with rt.db.session() as s:
        await resident_moves.report_problem(rt, s, oid, 1001, "wrong", "少" * min(fits, 4000))
    async with rt.db.read() as s:
        [to_staff] = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == STAFF))
        ).all()
    assert (
        "少" * min(fits, 4000) in to_staff.text
        and limits.tg_len(to_staff.text) <= limits.TEXT_LIMIT
    )
