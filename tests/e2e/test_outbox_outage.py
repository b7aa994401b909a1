"""Telegram down for a while: what the bot owes is kept and retried (on the bot's clock, so a
30-minute outage takes seconds), then arrives, each chat's messages exactly once and in order.
What fails for good (400, 403) is reported to the operator chat once and shown by /outbox."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot import outbox, sweep
from bot.i18n import gettext_for
from bot.seed import ensure_admins
from handlers.admin import OUTBOX_STATE
from models import OutboxMessage, OutboxStatus
from tests.factories import GROUP_1, STAFF, VOLUNTEERS_1, Harness, Z, text_of

OPERATOR = -1009999999999
ADMIN = 9100


def _operator_chat(h: Harness) -> None:
    h.emu.create_group("运维", members=[STAFF], group_id=OPERATOR)
    h.rt.settings.bot.operator_chat_id = OPERATOR


async def _owe(h: Harness, chats: list[int], n: int, tag: str) -> None:
    async with h.rt.db.session() as s:
        for i in range(n):
            for chat in chats:
                outbox.enqueue(s, h.rt.clock, chat_id=chat, text=f"{tag} {i}", is_group=chat < 0)
    h.rt.wake_outbox()


async def _let_time_pass(h: Harness, minutes: int, chats: int) -> None:
    """Move the bot's clock through ``minutes``, from one retry to the next, letting the
    dispatcher try (and fail) each time as it would in real time, and the sweep look at the
    backlog every 5 minutes: a 30-minute outage in seconds, with every attempt it would see."""
    clock = h.rt.clock
    end = clock.now() + timedelta(minutes=minutes)
    next_sweep = clock.now() + timedelta(minutes=5)
    # Polling the database (no event to wait on): each chat's first message meets the outage.
    while await h.count(OutboxMessage, OutboxMessage.attempts > 0) < chats:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    while clock.now() < end:
        due = await _next_retry(h)
        # Each retry that is due is made (the per-chat pacing spaces them in real time).
        give_up = time.monotonic() + 5
        while due is not None and due <= clock.now() and time.monotonic() < give_up:
            h.service.dispatcher.wake()
            await asyncio.sleep(0.05)
            due = await _next_retry(h)
        target = min(due or end, end, next_sweep)
        if target > clock.now():
            h.advance(seconds=(target - clock.now()).total_seconds() + 0.001)
        h.service.dispatcher.wake()
        await asyncio.sleep(0.1)
        if clock.now() >= next_sweep:
            await sweep.run_once(h.rt)
            next_sweep += timedelta(minutes=5)


async def _next_retry(h: Harness) -> datetime | None:
    """When the next retry is due (rows never tried yet wait behind one: not due by
    themselves)."""
    async with h.rt.db.read() as s:
        return await s.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0
            )
        )


async def _recover(h: Harness) -> None:
    """Telegram is back: within the longest back-off (5 minutes) everything owed goes out. A
    try that met the outage's last moments may have set a new back-off: let time pass again."""
    for _ in range(3):
        h.advance(minutes=5)
        h.service.dispatcher.wake()
        try:
            await h.settle(timeout=20)
            return
        except TimeoutError:
            continue
    await h.settle(timeout=5)


def _received(h: Harness, chat: int, tag: str) -> list[str]:
    return [
        text_of(m)
        for m in h.emu.messages(chat)
        if m["outgoing"] and text_of(m).startswith(tag + " ")
    ]


@pytest.mark.parametrize("minutes", [1, 5, 30])
async def test_an_outage_loses_nothing_and_keeps_each_chats_order(
    harness: Harness, minutes: int
) -> None:
    h = harness
    _operator_chat(h)
    chats = [STAFF, VOLUNTEERS_1[0], GROUP_1]
    for person in chats[:2]:
        h.person(person).say("/help")  # they have talked to the bot, so it may write to them
    await h.settle()
    h.emu.outage(502)
    await _owe(h, chats, 4, "outage")
    await _let_time_pass(h, minutes, len(chats))
    async with h.rt.db.read() as s:
        waiting = await s.scalar(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.FAILED).limit(1)
        )
    assert waiting is None, "a message was given up during the outage"
    h.emu.end_outage()
    await _recover(h)
    for chat in chats:
        assert _received(h, chat, "outage") == [f"outage {i}" for i in range(4)], chat
    # One report of the hold-up (if it lasted past outbox.alert_after_minutes), not one per sweep.
    held_up = [m for m in h.emu.messages(OPERATOR) if Z(outbox_alert()) in text_of(m)]
    assert len(held_up) == (1 if minutes > h.rt.settings.outbox.alert_after_minutes else 0)


def outbox_alert() -> tuple[str, str]:
    from bot.services.outbox_health import STUCK_ALERT

    return STUCK_ALERT


async def test_an_outage_with_no_connection_at_all_loses_nothing(harness: Harness) -> None:
    h = harness
    h.person(STAFF).say("/help")
    await h.settle()
    h.emu.outage(None)  # the connection is dropped, no HTTP answer
    await _owe(h, [STAFF, GROUP_1], 3, "dropped")
    await _let_time_pass(h, 10, 2)
    h.emu.end_outage()
    await _recover(h)
    for chat in (STAFF, GROUP_1):
        assert _received(h, chat, "dropped") == [f"dropped {i}" for i in range(3)]


async def test_a_message_refused_for_good_is_reported_to_the_operator_once(
    harness: Harness,
) -> None:
    h = harness
    _operator_chat(h)
    async with h.rt.db.session() as s:
        await ensure_admins(s, h.rt.clock, [ADMIN])
    resident = h.person(1201, "住户丙")
    resident.say("/help")
    await h.settle()
    h.emu.block_bot(1201)  # 403 Forbidden: final
    await _owe(h, [1201], 1, "to a blocked user")
    await h.settle()
    await h.sweep()
    await h.sweep()
    reports = [m for m in h.emu.messages(OPERATOR) if m["outgoing"] and "⚠️" in text_of(m)]
    assert len(reports) == 1
    report = text_of(reports[0])
    assert "blocked" in report
    assert "住户丙" not in report and "1201" not in report  # no one's name or id
    # An admin sees it in /outbox.
    admin = h.person(ADMIN, "管理员")
    admin.say("/outbox")
    state = await admin.expect(Z(OUTBOX_STATE))
    failed_line = gettext_for("zh_CN")(OUTBOX_STATE).splitlines()[-1]
    assert failed_line.format(failed=1) in text_of(state)


async def test_outbox_is_for_admins_only(harness: Harness) -> None:
    h = harness
    someone = h.person(1202, "住户丁")
    someone.say("/outbox")
    await someone.expect(Z("Only admins can see the outgoing messages. Your Telegram id is {id}."))
