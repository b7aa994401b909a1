"""At-least-once in, exactly-once effects; the outbox keeps within Telegram's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.services import notices
from handlers.runner import BotService
from models import InboxUpdate, Order, OrderDraft, OutboxMessage
from tests.conftest import TOKEN
from tests.factories import GROUP_1, STAFF, Harness, text_of


def _confirm_update_id(h: Harness) -> int:
    for u in h.emu.updates_log():
        data = (u.get("callback_query") or {}).get("data", "")
        if data.startswith("d:ok:"):
            return int(u["update_id"])
    raise AssertionError("no confirm press in the update log")


async def test_the_same_update_delivered_twice_makes_one_order(harness: Harness) -> None:
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await h.settle()
    update_id = _confirm_update_id(h)

    # Telegram delivers the confirm press again, with the same update_id.
    h.emu.redeliver(update_id)
    await h.settle()
    # And the resident presses the (now edited) confirm button again, as a new update.
    async with h.rt.db.read() as s:
        draft = await s.scalar(select(OrderDraft))
    assert draft is not None
    h.emu.press(1001, 1001, 1, f"d:ok:{draft.id}", force=True)
    await h.settle()

    assert await h.count(Order) == 1
    assert await h.count(InboxUpdate, InboxUpdate.update_id == update_id) == 1
    posts = [m for m in h.emu.messages(GROUP_1) if m["outgoing"] and "#" in text_of(m)]
    assert len(posts) == 1
    assert await h.count(Order, Order.id == 2) == 0


async def test_an_update_replayed_after_a_crash_is_applied_once(harness: Harness) -> None:
    """A crash after the handler ran but before the inbox row was marked: on restart the
    update is processed again, and still makes one order and one group post."""
    h = harness
    aunt = await h.register(1001, "周阿姨")
    await h.order(aunt)
    await h.settle()
    update_id = _confirm_update_id(h)
    await h.service.stop()
    async with h.rt.db.session() as s:
        await s.execute(
            update(InboxUpdate)
            .where(InboxUpdate.update_id == update_id)
            # Unmarked, and its lease (real time) run out as it has a while after a crash:
            # else the new instance waits out the old one's 30 s lease (PostgreSQL claims).
            .values(processed_at=None, lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    again = BotService(
        h.rt,
        token=TOKEN,
        base_url=h.emu.base_url,
        base_file_url=h.emu.base_file_url,
        time_scale=h.emu.time_scale,
    )
    h.service = again
    await again.start()
    await h.settle()
    async with h.rt.db.read() as s:
        row = await s.get(InboxUpdate, update_id)
        assert row is not None and row.processed_at is not None
    assert await h.count(Order) == 1
    assert await h.count(OutboxMessage, OutboxMessage.chat_id == GROUP_1) == 1


async def _residents(h: Harness, n: int) -> list[int]:
    ids = list(range(50001, 50001 + n))
    for i, tid in enumerate(ids):
        await h.register(tid, f"居民{i}", room=str(100 + i), settle=False)
    await h.settle()
    return ids


@pytest.mark.long
@pytest.mark.expect_429  # the emulator is made stricter than the bot's pacing
# At Telegram's own speed: on the fast clock, a slow machine may not reach even 5 a second.
@pytest.mark.realtime
async def test_a_burst_answered_with_429_still_arrives_once(harness: Harness) -> None:
    h = harness
    ids = await _residents(h, 30)
    h.emu.reset_stats()
    h.emu.reset_limits_state()
    # The emulator is stricter than the bot's pacing: the bot will meet 429s.
    h.emu.set_limits(global_rate=5)
    async with h.rt.db.session() as s:
        await notices.create(h.rt, s, STAFF, notices.GRID, "g1", "明天上午8点全员核酸")
    h.rt.wake_outbox()
    await h.settle(timeout=60)
    stats = h.emu.stats()
    assert stats["rate_limited"] > 0
    for tid in ids:
        got = [m for m in h.emu.messages(tid) if m["outgoing"] and "全员核酸" in text_of(m)]
        assert len(got) == 1, tid
    assert len([m for m in h.emu.messages(GROUP_1) if "全员核酸" in text_of(m)]) == 1
    assert 0 < h.service.dispatcher.retry_count <= stats["rate_limited"]
    async with h.rt.db.read() as s:
        states = set((await s.scalars(select(OutboxMessage.status))).all())
    assert states == {"sent"}


@pytest.mark.long
# Zero 429s, judged by the strict emulator where requests arrive: the pacing counts from the
# answers, so it holds on a busy machine too (tests/e2e/test_pacing_busy.py at real speed).
async def test_within_telegrams_limits_no_429(harness: Harness) -> None:
    h = harness
    ids = await _residents(h, 40)
    h.emu.reset_stats()
    h.emu.reset_limits_state()
    async with h.rt.db.session() as s:
        await notices.create(h.rt, s, STAFF, notices.GRID, "g1", "社区通知：今天下午停水")
        # And five notices to the group in a row: the group budget (20/min) holds.
        for i in range(5):
            await notices.create(h.rt, s, STAFF, notices.GRID, "g1", f"第{i}条")
    h.rt.wake_outbox()
    await h.settle(timeout=60)
    stats = h.emu.stats()
    assert stats["rate_limited"] == 0
    for tid in ids:
        assert len([m for m in h.emu.messages(tid) if "停水" in text_of(m)]) == 1
