"""The strict emulator judges Telegram's limits where requests arrive, as Telegram does: a
private chat gets no burst, and a request the emulator held back still counts from when it
reached the server. The lenient emulator (burst, judged when handled) lets both through."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot
from telegram.error import RetryAfter

from sandbox.client import SandboxClient
from sandbox.emulator import Emulator
from tests.sandbox.conftest import ALICE, BOB, started


@pytest.mark.parametrize("strict", [False, True])
async def test_three_replies_at_once_to_one_private_chat(
    emu: Emulator, bot: Bot, client: SandboxClient, strict: bool
) -> None:
    await started(client, bot)
    emu.set_limits(strict=strict)
    results = await asyncio.gather(
        *(bot.send_message(ALICE, f"reply {i}") for i in range(3)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, RetryAfter)]
    # Lenient: a burst of five is tolerated. Strict: one message a second, on arrival.
    assert len(refused) == (2 if strict else 0), results
    assert emu.stats()["rate_limited"] == len(refused)
    assert len(await client.bot_messages(ALICE)) == 3 - len(refused)


@pytest.mark.parametrize("strict", [False, True])
async def test_a_request_held_in_the_emulator_counts_from_its_arrival(
    emu: Emulator, bot: Bot, client: SandboxClient, strict: bool
) -> None:
    await started(client, bot)
    await started(client, bot, BOB)
    emu.set_limits(strict=strict, global_rate=1, global_window=1.0)
    emu.stall(ALICE)
    held = asyncio.create_task(bot.send_message(ALICE, "arrives first, held"))
    await asyncio.sleep(0.2)
    assert not held.done() and emu.stalled_calls == 1
    await bot.send_message(BOB, "arrives 0.2 s later, handled at once")
    await asyncio.sleep(1.3)  # the held one is handled over a second after BOB's
    emu.release(ALICE)
    if strict:  # both arrived within one second: the second handled is refused
        with pytest.raises(RetryAfter):
            await held
    else:
        assert (await held).text == "arrives first, held"
    assert emu.stats()["rate_limited"] == (1 if strict else 0)
