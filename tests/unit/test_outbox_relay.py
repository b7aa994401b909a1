"""What several instances need of the outbox to keep one Telegram budget: a direct reply handed
to it keeps its chat keyboard, a pass sending a broadcast lets rows just written go next when
woken, an urgent send takes the next overall slot before a broadcast's, and an instance that
does not lead wakes the leader's dispatcher (NOTIFY) while the leader wakes only its own (and
SQLite wakes only the local one)."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import TYPE_CHECKING

import pytest
from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot import outbox, replies
from bot.outbox import Dispatcher, Limits, Outgoing, Pacer, SendResult, leases
from bot.outbox.wakeup import Wakeup
from bot.runtime import Runtime
from handlers.transport import _keyboard_json, keyboard
from tests.waiting import until

if TYPE_CHECKING:
    from tests.postgres import Cluster  # noqa: F401  (the plugin below provides its fixtures)

pytest_plugins = ["tests.postgres"]


async def test_a_reply_handed_to_the_outbox_keeps_its_chat_keyboard(rt: Runtime) -> None:
    menu = ReplyKeyboardMarkup(
        [[KeyboardButton("📝 下单", request_contact=True)]], resize_keyboard=True
    )
    owed = []
    for markup in (menu, ReplyKeyboardRemove()):
        data = _keyboard_json(markup)
        assert data is not None
        owed.append(
            await replies.defer_send(
                rt.db, rt.clock, chat_id=42, text="好", buttons=None, is_group=False, keyboard=data
            )
        )
    taken = await leases.take_many(rt.db, rt.clock, dict.fromkeys(owed))
    kept = [out for out, _ in taken]
    assert [o.id for o in kept] == owed
    assert [o.buttons for o in kept] == [None, None]
    sent = [keyboard(o.keyboard or {}) for o in kept]
    assert [type(k) for k in sent] == [ReplyKeyboardMarkup, ReplyKeyboardRemove]
    assert [k.to_dict() for k in sent] == [menu.to_dict(), ReplyKeyboardRemove().to_dict()]
    assert isinstance(sent[0], ReplyKeyboardMarkup)
    assert sent[0] == menu and isinstance(sent[0].keyboard[0][0], KeyboardButton)
    # Inline buttons are no chat keyboard: they go as rows, as before.
    assert _keyboard_json(None) is None


class SlowChannel:
    """Records what was sent, in order; each send takes a little while."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, msg: Outgoing) -> SendResult:
        await asyncio.sleep(0.01)
        self.sent.append(msg.text)
        return SendResult(ok=True, message_id=len(self.sent))


async def test_a_woken_pass_sends_a_row_just_written_before_the_rest_of_a_broadcast(
    rt: Runtime,
) -> None:
    channel = SlowChannel()
    # 20 a second: 200 broadcast rows take 10 s, one pass 2 s of them.
    d = Dispatcher(
        rt.db, rt.clock, channel, Limits(global_per_second=20, poll_seconds=60, max_in_flight=2)
    )
    async with rt.db.session() as s:
        for chat in range(200):
            outbox.enqueue(s, rt.clock, chat_id=1000 + chat, text="notice", priority=10)
    await d.start()
    try:
        await until(lambda: len(channel.sent) >= 5, "the broadcast under way")
        async with rt.db.session() as s:
            outbox.enqueue(s, rt.clock, chat_id=7, text="reply")
        d.wake()
        await until(lambda: "reply" in channel.sent, "the reply")
    finally:
        await d.stop()
    # Within a few sends of the wake: the pass started over, priority 0 first (it would be
    # ~40 sends later, at the next pass, otherwise).
    assert channel.sent.index("reply") < 5 + 8, channel.sent.index("reply")


async def test_an_instance_that_does_not_lead_wakes_the_leader(pg_url: str) -> None:
    heard: list[str] = []
    leader = Wakeup(pg_url, lambda: heard.append("leader"), leads=lambda: True)
    other = Wakeup(pg_url, lambda: heard.append("other"), leads=lambda: False)
    await leader.start()
    await other.start()
    try:
        leader.wake()  # its own dispatcher only: nobody else need hear
        assert heard == ["leader"]
        for _ in range(5):  # a burst: one NOTIFY or a few, never lost
            other.wake()
        await until(lambda: heard.count("leader") == 2, "the leader woken", 10)
        assert 1 <= other.notified <= 5 and leader.notified == 0
        assert leader.heard >= 1
    finally:
        await other.close()
        await leader.close()


async def test_a_wake_while_closing_leaves_no_connection_behind(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping an instance closes its wake-up while the bot may still commit (a job, a late
    update) and so wake: such a wake once started a NOTIFY that ``close`` never saw, on the
    connection it was closing at the same moment (asyncpg: "got result for unknown protocol
    state"), or on a new one nobody closed: the connection the garbage collector found (the
    SQLAlchemy warning the two-instance tests filtered)."""
    heard: list[str] = []
    w = Wakeup(pg_url, lambda: heard.append("local"), leads=lambda: False)
    await w.start()
    closing = asyncio.create_task(w.close())
    await asyncio.sleep(0)  # close() has cancelled the keep-alive and waits for it
    w.wake()  # this process's dispatcher only: the instance is stopping
    await closing
    await asyncio.sleep(0.5)  # what a stray NOTIFY would need
    assert heard == ["local"] and w.notified == 0 and w._conn is None
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    assert not [r for r in caplog.records if r.name == "bot.outbox.wakeup"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [str(c.message) for c in caught if "non-checked-in" in str(c.message)]


async def test_on_sqlite_a_wake_is_the_local_one() -> None:
    woken: list[int] = []
    w = Wakeup("sqlite+aiosqlite:///:memory:", lambda: woken.append(1), leads=lambda: False)
    await w.start()
    w.wake()
    await asyncio.sleep(0)
    assert woken == [1] and w.notified == 0
    await w.close()


async def test_an_urgent_send_takes_the_next_overall_slot_before_a_broadcast_s() -> None:
    pacer = Pacer(Limits(global_per_second=20))
    order: list[str] = []

    async def send(name: str, chat: int, urgent: bool) -> None:
        flight = await pacer.acquire(chat, False, urgent)
        order.append(name)
        pacer.landed(flight)

    broadcast = [asyncio.create_task(send(f"b{n}", 100 + n, False)) for n in range(10)]
    await until(lambda: len(order) >= 2, "the broadcast under way")
    reply = asyncio.create_task(send("reply", 7, True))
    await asyncio.gather(reply, *broadcast)
    # Next but one at most (a slot may already be taken as it arrives), not after the 8 left.
    assert order.index("reply") <= 4, order
