"""A bot process killed with SIGKILL while a message is in flight: the row it left 'sending'
must not block its chat, and the message must still arrive (at least once).

The bot runs as a real `paotui run` subprocess against the emulator (with a token, as against
Telegram) on a real SQLite file; the test kills it with ``kill -9`` and starts a new one.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from handlers.main import open_private_chats, populate_emulator
from models import OrderEvent, OutboxMessage, OutboxStatus
from tests.conftest import EXAMPLE, ROOT, TOKEN
from tests.factories import GROUP_1, VOLUNTEERS_1, Harness, buttons, text_of

# `paotui run` paces at Telegram's real speed, so the emulator runs at it too (realtime). Long
# (handed out first): most of their time is the lease of a killed process running out, spent
# waiting while the other tests run.
pytestmark = [pytest.mark.long, pytest.mark.realtime]


class BotProcess:
    """`paotui run` in a child process, pointed at the emulator as if it were Telegram."""

    def __init__(self, emu: Any, url: str, log: Path) -> None:
        self.env = {
            **os.environ,
            "PAOTUI_CONFIG": str(EXAMPLE),
            "PAOTUI_BOT__TOKEN": TOKEN,
            "PAOTUI_BOT__API_BASE_URL": emu.base_url,
            "PAOTUI_BOT__API_FILE_URL": emu.base_file_url,
            "PAOTUI_BOT__POLL_TIMEOUT": "2",
            "PAOTUI_DATABASE__URL": url,
            "PAOTUI_OUTBOX__POLL_SECONDS": "0.1",
            "PAOTUI_REPORTS__DAILY_SUMMARY_AT": "",
        }
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "run"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def bot_process(emu: Any, database_url: str, tmp_path: Path) -> Iterator[BotProcess]:
    populate_emulator(emu, TOKEN)
    open_private_chats(emu, TOKEN)
    proc = BotProcess(emu, database_url, tmp_path / "bot.log")
    try:
        yield proc
    finally:
        proc.stop()
        print(proc.log.read_text(errors="replace")[-4000:])


async def _row_status(rt: Runtime, chat_id: int) -> list[tuple[int, str]]:
    async with rt.db.read() as s:
        found = await s.execute(
            select(OutboxMessage.id, OutboxMessage.status)
            .where(OutboxMessage.chat_id == chat_id)
            .order_by(OutboxMessage.id)
        )
        return [(r.id, r.status) for r in found]


async def test_a_post_in_flight_when_the_bot_is_killed_does_not_block_its_group(
    rt: Runtime, emu: Any, bot_process: BotProcess
) -> None:
    h = Harness(service=None, rt=rt, emu=emu)
    bot_process.start()
    a = await h.register(1101, "住户甲", settle=False)
    b = await h.register(1102, "住户乙", room="102", phone="13800001102", settle=False)

    # Telegram holds the group post of the first order: the bot has leased it and waits.
    emu.stall(GROUP_1)
    first = await h.order(a, urgency="normal")
    deadline = time.monotonic() + 20
    while emu.stalled_calls == 0 or not any(
        st == OutboxStatus.SENDING for _, st in await _row_status(rt, GROUP_1)
    ):
        assert time.monotonic() < deadline, "the group post never went out"
        await asyncio.sleep(0.05)

    bot_process.kill9()  # mid-send: the row stays 'sending', as after a power cut
    emu.release(GROUP_1)
    assert any(st == OutboxStatus.SENDING for _, st in await _row_status(rt, GROUP_1))
    restarted = time.monotonic()
    bot_process.start()

    # The next task of the grid reaches the group within seconds of the restart,
    second = await h.order(b, category="medicine", urgency="normal")
    first_id, second_id = (int(re.search(r"#(\d+)", text_of(m))[1]) for m in (first, second))
    new_post = await emu.wait_for(GROUP_1, f"#{second_id} ", timeout=30)
    took = time.monotonic() - restarted
    print(f"the group's next post arrived {took:.1f}s after the restart")
    assert took < 30, f"the group was blocked for {took:.0f}s after the restart"
    # and the post that was in flight at the crash arrived too (at least once), before it.
    old_posts = [
        m for m in emu.messages(GROUP_1) if m["outgoing"] and f"#{first_id} " in text_of(m)
    ]
    assert old_posts, "the post in flight at the crash was lost"
    assert old_posts[0]["message_id"] < new_post["message_id"]
    rows = await _row_status(rt, GROUP_1)
    assert rows[0][1] == OutboxStatus.SENT
    assert all(st != OutboxStatus.FAILED for _, st in rows)


async def test_a_post_telegram_took_before_the_bot_was_killed_comes_twice_and_stays_live(
    rt: Runtime, emu: Any, bot_process: BotProcess
) -> None:
    """What a duplicate looks like (at-least-once): Telegram took the post, the bot died before
    it heard so, the restarted bot sends it again. The same post appears twice; the second is
    the live one (edited when the task is taken), and 🙋 on either claims the task once."""
    h = Harness(service=None, rt=rt, emu=emu)
    bot_process.start()
    resident = await h.register(1103, "住户丙", settle=False)
    emu.stall(GROUP_1, after_delivery=True)
    confirmation = await h.order(resident, urgency="normal")
    order_id = int(re.search(r"#(\d+)", text_of(confirmation))[1])
    first = await emu.wait_for(GROUP_1, f"#{order_id} ", timeout=20)
    deadline = time.monotonic() + 10
    while emu.stalled_calls == 0:  # the answer is held: the bot has not recorded the send
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    bot_process.kill9()
    emu.release(GROUP_1)
    bot_process.start()

    again = await emu.wait_for(
        GROUP_1,
        lambda m: f"#{order_id} " in text_of(m) and m["message_id"] > first["message_id"],
        timeout=40,
    )
    assert text_of(again) == text_of(first)  # the duplicate: the same post a second time
    runner = h.person(VOLUNTEERS_1[0])
    runner.say("/help")
    await runner.press_data(first, f"o:claim:{order_id}")  # the older copy's button works too
    await runner.expect(lambda m: f"o:buy:{order_id}" in str(m.get("reply_markup")), timeout=20)
    # The live copy is edited to "taken"; the task was claimed once.
    await h.wait_edit(GROUP_1, again["message_id"], lambda m: not buttons(m), timeout=20)
    async with rt.db.read() as s:
        claims = await s.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.to_status == "claimed")
        )
    assert claims == 1
