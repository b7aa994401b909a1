"""Fixtures of the emulator's own tests: an emulator on a fixed clock, a real PTB Bot and the
sandbox client speaking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator

TOKEN = "123456:TEST-token"
ALICE, BOB = 1001, 1002
ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    def __init__(self, now: float) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error under our filterwarnings) when RetryAfter exposes int seconds.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = Emulator(clock=FakeClock(1_750_000_000.0))
    emulator.register_bot(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(emu.url, token=TOKEN) as c:
        await c.create_user(ALICE, "Alice", username="alice", language_code="zh-hans")
        await c.create_user(BOB, "Bob")
        yield c


async def started(client: SandboxClient, bot: Bot, user_id: int = ALICE) -> int:
    """The user opens the bot; returns the next getUpdates offset (update consumed)."""
    sent = await client.send_text(user_id, "/start")
    await bot.get_updates(offset=sent["update_id"] + 1, timeout=0)
    return sent["update_id"] + 1
